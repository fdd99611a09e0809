package main

import (
	"context"
	"net"
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

// TestAPIShutdownTimeoutBoundsTheHTTPDrain: on SIGTERM, `hookline api`
// drains requests in flight for --shutdown-timeout and no longer: a
// request still waiting then (a test ping to a receiver that never
// answers) is abandoned, and the command says the drain was incomplete.
func TestAPIShutdownTimeoutBoundsTheHTTPDrain(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		pinged := make(chan struct{}, 1)
		hold := make(chan struct{})
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case pinged <- struct{}{}:
			default:
			}
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}))
		defer rc.Close()
		defer close(hold) // before rc.Close, which waits for its handlers
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		const drain = 500 * time.Millisecond
		operator := "hlop_" + strings.Repeat("x", 32)
		ctx, sigterm := context.WithCancel(context.Background())
		defer sigterm()
		done := make(chan error, 1)
		go func() {
			done <- runAPI(ctx, []string{"--brokers", strings.Join(b.Brokers, ","), "--redis-url", b.RedisURL,
				"--master-key", newKey(t), "--operator-key", operator, "--topic-prefix", testbackend.UniqueName(t) + ".",
				"--listen", addr, "--ops-addr", "", "--allow-http", "--allow-networks", "127.0.0.0/8",
				"--shutdown-timeout", drain.String(), "--log-level", "error"})
		}()
		base := "http://" + addr
		op := newAPIClient(base, operator)
		var tenant struct{ ID string }
		deadline := time.Now().Add(60 * time.Second)
		for {
			err := op.do(ctx, "POST", "/v1/tenants", map[string]any{"name": "acme"}, &tenant)
			if err == nil {
				break
			}
			select {
			case rerr := <-done:
				t.Fatalf("api stopped: %v", rerr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("api not serving within 60s: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		var key struct{ Token string }
		if err := op.do(ctx, "POST", "/v1/tenants/"+tenant.ID+"/keys", map[string]any{"name": "ci"}, &key); err != nil {
			t.Fatal(err)
		}
		created := make(chan error, 1)
		go func() {
			created <- newAPIClient(base, key.Token).do(context.Background(), "POST", "/v1/endpoints",
				map[string]any{"name": "crm", "url": rc.URL + "/hooks", "eventTypes": []string{"*"}}, nil)
		}()
		select {
		case <-pinged:
		case <-time.After(30 * time.Second):
			t.Fatal("the test ping did not reach the receiver")
		}
		start := time.Now()
		sigterm()
		select {
		case err := <-done:
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "api: drain incomplete") {
				t.Fatalf("api after %s: %v, want the API's drain reported incomplete", took, err)
			}
			if took > drain+3*time.Second {
				t.Fatalf("api stopped %s after SIGTERM, want about --shutdown-timeout %s", took, drain)
			}
			t.Logf("stopped %s after SIGTERM: %v", took.Round(time.Millisecond), err)
		case <-time.After(30 * time.Second):
			t.Fatal("api still running 30s after SIGTERM")
		}
		if err := <-created; err == nil {
			t.Fatal("the abandoned request was answered as if drained")
		}
	})
}
