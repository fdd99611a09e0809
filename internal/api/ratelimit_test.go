package api_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
)

// event is a valid ingest body.
const event = `{"type":"task.created","data":{"task":{"id":"t1"}}}`

// stoppedClock is a clock tests move by hand.
func stoppedClock() (now func() time.Time, advance func(time.Duration)) {
	t := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t }, func(d time.Duration) { t = t.Add(d) }
}

// keyOf makes a tenant and a key in the registry, past the API and so
// past the operator's rate limit.
func keyOf(t *testing.T, e *env, tenant string) string {
	t.Helper()
	if _, err := e.store.CreateTenant(context.Background(), tenant, tenant); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.store.CreateKey(context.Background(), tenant, "ci")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestDefaultRateLimit: the zero Config allows each key 20 requests a
// second with bursts of 40: the 41st at once is refused.
func TestDefaultRateLimit(t *testing.T) {
	now, _ := stoppedClock()
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.RatePerSecond, c.Now = 0, now })
	a, b := keyOf(t, e, "a"), keyOf(t, e, "b")
	for i := range 2 * api.DefaultRatePerSecond {
		if r := e.do("GET", "/v1/endpoints", a, nil); r.Status != 200 {
			t.Fatalf("request %d: %d, want 200 within the default burst", i+1, r.Status)
		}
	}
	r := e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1 (a token every 50 ms)", got)
	}
	e.do("GET", "/v1/endpoints", b, nil).want(t, 200)
}

// TestIngestSharesTheKeysBudgetByDefault: without IngestRatePerSecond,
// events and management calls draw on one budget per key.
func TestIngestSharesTheKeysBudgetByDefault(t *testing.T) {
	now, _ := stoppedClock()
	pub := &publishRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.RatePerSecond, c.RateBurst, c.Now, c.Publisher = 1, 2, now, pub })
	a := keyOf(t, e, "a")
	e.do("POST", "/v1/events", a, event).want(t, 202)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	e.do("POST", "/v1/events", a, event).want(t, 429)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
}

// TestIngestHasItsOwnBudget: with IngestRatePerSecond set, a key's events
// are paced by it alone, apart from its management calls and from other
// keys' events.
func TestIngestHasItsOwnBudget(t *testing.T) {
	now, advance := stoppedClock()
	pub := &publishRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) {
		c.RatePerSecond, c.RateBurst, c.IngestRatePerSecond, c.IngestRateBurst, c.Now, c.Publisher = 0.5, 1, 4, 5, now, pub
	})
	a, b := keyOf(t, e, "a"), keyOf(t, e, "b")
	for i := range 5 {
		if r := e.do("POST", "/v1/events", a, event); r.Status != 202 {
			t.Fatalf("event %d: %d, want 202 within the ingest burst of 5: %s", i+1, r.Status, r.Body)
		}
	}
	r := e.do("POST", "/v1/events", a, event).want(t, 429)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1 (an event every 250 ms)", got)
	}
	if !strings.Contains(r.str("error"), "event rate") {
		t.Fatalf("429 says %q, want the event rate named", r.str("error"))
	}
	// The key's management budget is untouched, and spent on its own.
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
	// Another key posts its own burst.
	e.do("POST", "/v1/events", b, event).want(t, 202)
	advance(250 * time.Millisecond)
	e.do("POST", "/v1/events", a, event).want(t, 202)
	e.do("POST", "/v1/events", a, event).want(t, 429)
	if n := len(pub.published()); n != 7 {
		t.Fatalf("%d events published, want the 7 accepted", n)
	}
}

func TestUnlimitedIngest(t *testing.T) {
	now, _ := stoppedClock()
	pub := &publishRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) {
		c.RatePerSecond, c.RateBurst, c.IngestRatePerSecond, c.Now, c.Publisher = 0.5, 1, -1, now, pub
	})
	a := keyOf(t, e, "a")
	for range 50 {
		e.do("POST", "/v1/events", a, event).want(t, 202)
	}
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
}

// TestRateSettingsOutOfBounds: New refuses a rate or burst out of its
// bounds and names the setting.
func TestRateSettingsOutOfBounds(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	for _, c := range []struct {
		field string
		mod   func(*api.Config)
	}{
		{"RatePerSecond", func(c *api.Config) { c.RatePerSecond = api.MaxRatePerSecond + 1 }},
		{"RatePerSecond", func(c *api.Config) { c.RatePerSecond = math.NaN() }},
		{"RatePerSecond", func(c *api.Config) { c.RatePerSecond = math.Inf(1) }},
		{"RateBurst", func(c *api.Config) { c.RateBurst = -1 }},
		{"RateBurst", func(c *api.Config) { c.RateBurst = api.MaxRateBurst + 1 }},
		{"IngestRatePerSecond", func(c *api.Config) { c.IngestRatePerSecond = api.MaxRatePerSecond * 2 }},
		{"IngestRateBurst", func(c *api.Config) { c.IngestRatePerSecond, c.IngestRateBurst = 5, -3 }},
		{"IngestRateBurst", func(c *api.Config) { c.IngestRateBurst = 10 }},
	} {
		cfg := api.Config{Registry: e.store}
		c.mod(&cfg)
		_, err := api.New(cfg)
		var ce *api.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, api.ErrConfig) || ce.Field != c.field {
			t.Errorf("%+v: %v, want a ConfigError naming %s", cfg, err, c.field)
		}
	}
	for _, mod := range []func(*api.Config){
		func(c *api.Config) { c.RatePerSecond, c.RateBurst = api.MaxRatePerSecond, api.MaxRateBurst },
		func(c *api.Config) { c.RatePerSecond, c.IngestRatePerSecond = -1, math.Inf(-1) },
		func(c *api.Config) { c.IngestRatePerSecond, c.IngestRateBurst = 0.01, 1 },
	} {
		cfg := api.Config{Registry: e.store}
		mod(&cfg)
		if _, err := api.New(cfg); err != nil {
			t.Errorf("%+v: %v, want accepted", cfg, err)
		}
	}
}
