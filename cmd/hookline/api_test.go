package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"go.uber.org/zap"
)

// countingPublisher accepts every event.
type countingPublisher struct{ n int }

func (p *countingPublisher) Publish(context.Context, producer.Event) (producer.Published, error) {
	p.n++
	return producer.Published{EventID: "ev"}, nil
}

// flagServer serves the API with the rate flags args, on a registry with
// two tenants, and a clock that stands still unless advanced.
func flagServer(t *testing.T, args ...string) (url string, keys [2]string, advance func(time.Duration)) {
	t.Helper()
	_, a, err := parseAPI(quietFlagSet("api"), args)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kr, _ := registry.ParseKeyring(newKey(t))
	st, err := openRegistry(ctx, testbackend.NewFake(t).Brokers, testbackend.UniqueName(t)+".", kr, "", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	for i, tenant := range []string{"t-a", "t-b"} {
		if _, err := st.CreateTenant(ctx, tenant, tenant); err != nil {
			t.Fatal(err)
		}
		if keys[i], _, err = st.CreateKey(ctx, tenant, "ci"); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg := api.Config{Registry: st, Publisher: &countingPublisher{}, Now: func() time.Time { return now }}
	if err := a.limits(&cfg); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, keys, func(d time.Duration) { now = now.Add(d) }
}

// call sends one request as key and returns its status and Retry-After.
func call(t *testing.T, url, key, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

const ingestBody = `{"type":"task.created","data":{"task":{"id":"t1"}}}`

// TestAPIRateFlagsLimitEachKey: with --rate-limit 2 --rate-burst 3 a key
// makes 3 requests at once, the 4th is answered 429 with Retry-After,
// and another key is unaffected; events count against the same budget.
func TestAPIRateFlagsLimitEachKey(t *testing.T) {
	url, keys, advance := flagServer(t, "--rate-limit", "2", "--rate-burst", "3")
	for i := range 3 {
		if st, _ := call(t, url, keys[0], "GET", "/v1/endpoints", ""); st != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, st)
		}
	}
	if st, after := call(t, url, keys[0], "GET", "/v1/endpoints", ""); st != 429 || after != "1" {
		t.Fatalf("4th request: %d with Retry-After %q, want 429 with 1", st, after)
	}
	if st, after := call(t, url, keys[0], "POST", "/v1/events", ingestBody); st != 429 || after != "1" {
		t.Fatalf("an event past the budget: %d with Retry-After %q, want 429 with 1 (ingest shares --rate-limit)", st, after)
	}
	if st, _ := call(t, url, keys[1], "GET", "/v1/endpoints", ""); st != 200 {
		t.Fatalf("another key: %d, want 200", st)
	}
	advance(500 * time.Millisecond)
	if st, _ := call(t, url, keys[0], "GET", "/v1/endpoints", ""); st != 200 {
		t.Fatalf("after one token's time: %d, want 200", st)
	}
}

// TestIngestRateFlagIsItsOwnBudget: --ingest-rate-limit paces events
// apart from management calls.
func TestIngestRateFlagIsItsOwnBudget(t *testing.T) {
	url, keys, _ := flagServer(t, "--rate-limit", "1", "--rate-burst", "1", "--ingest-rate-limit", "10", "--ingest-rate-burst", "4")
	for i := range 4 {
		if st, _ := call(t, url, keys[0], "POST", "/v1/events", ingestBody); st != 202 {
			t.Fatalf("event %d: %d, want 202", i+1, st)
		}
	}
	if st, after := call(t, url, keys[0], "POST", "/v1/events", ingestBody); st != 429 || after != "1" {
		t.Fatalf("5th event: %d with Retry-After %q, want 429 with 1", st, after)
	}
	if st, _ := call(t, url, keys[1], "POST", "/v1/events", ingestBody); st != 202 {
		t.Fatalf("another key's event: %d, want 202", st)
	}
	if st, _ := call(t, url, keys[0], "GET", "/v1/endpoints", ""); st != 200 {
		t.Fatalf("a management call after the events: %d, want 200 (its own budget)", st)
	}
	if st, _ := call(t, url, keys[0], "GET", "/v1/endpoints", ""); st != 429 {
		t.Fatalf("2nd management call: %d, want 429 (--rate-burst 1)", st)
	}
}

func TestAPIRateFlagDefaultsAndBounds(t *testing.T) {
	_, a, err := parseAPI(quietFlagSet("api"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg api.Config
	if err := a.limits(&cfg); err != nil || cfg.RatePerSecond != api.DefaultRatePerSecond || cfg.RateBurst != 0 || cfg.IngestRatePerSecond != 0 || cfg.IngestRateBurst != 0 {
		t.Fatalf("defaults %+v (%v), want 20/s, the default burst, and ingest on the same budget", cfg, err)
	}
	t.Setenv("HOOKLINE_INGEST_RATE_LIMIT", "500")
	if _, a, err := parseAPI(quietFlagSet("api"), nil); err != nil || a.ingestRate != 500 {
		t.Fatalf("HOOKLINE_INGEST_RATE_LIMIT=500: %v, %v", a, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-limit", "1e9"}, "--rate-limit (HOOKLINE_RATE_LIMIT)"},
		{[]string{"--rate-limit", "NaN"}, "--rate-limit (HOOKLINE_RATE_LIMIT)"},
		{[]string{"--rate-burst", "-1"}, "--rate-burst (HOOKLINE_RATE_BURST)"},
		{[]string{"--ingest-rate-limit", "1e9"}, "--ingest-rate-limit (HOOKLINE_INGEST_RATE_LIMIT)"},
		{[]string{"--ingest-rate-limit", "50", "--ingest-rate-burst", "2000000"}, "--ingest-rate-burst (HOOKLINE_INGEST_RATE_BURST)"},
		{[]string{"--ingest-rate-limit", "0", "--ingest-rate-burst", "5"}, "--ingest-rate-burst (HOOKLINE_INGEST_RATE_BURST): needs --ingest-rate-limit"},
	} {
		if _, _, err := parseAPI(quietFlagSet("api"), c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("api %v: %v, want an error naming %s", c.args, err, c.want)
		}
		if _, err := parseDev(quietFlagSet("dev"), c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dev %v: %v, want an error naming %s before starting", c.args, err, c.want)
		}
	}
}
