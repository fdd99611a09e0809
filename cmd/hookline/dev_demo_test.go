package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/demo"
)

// TestDevDemoRunsTwoApplications runs dev --demo, stops it and starts it
// again on the same data dir. Each time both applications are registered
// through the API, the first tenant's endpoints name theirs, and both
// deliver: every delivery verifies at its application's receiver as that
// application's document says (signature, headers, body shape, timestamp),
// no event reaches the other application's receiver, and a first attempt
// the receiver fails is retried and delivered. The restart registers and
// creates nothing twice.
func TestDevDemoRunsTwoApplications(t *testing.T) {
	dir := t.TempDir()
	for run := 1; run <= 2; run++ {
		// Short tiers, so Momentum Studio's retries (it has no schedule of
		// its own) come back within the test.
		r, stop := startDevIn(t, dir, "--demo", "--demo-rate", "40", "--retry-schedule", "1s,2s")
		checkDemoRegistry(t, r)
		waitDemo(t, r.Demo, 30*time.Second, func(s map[string]demo.Stats) bool {
			studio, pro := s[demo.MomentumStudioID], s[demo.MomentumproID]
			return studio.Verified >= 5 && studio.Retried >= 1 && pro.Verified >= 5
		})
		stop()
		for _, a := range r.Demo.apps {
			s := a.recv.Stats()
			t.Logf("run %d, %s: %d events in %d verified POSTs (%d unique, %d after a failed first attempt); bad signatures %d, stale %d, malformed %d, foreign %d",
				run, a.id(), s.Events, s.Verified, s.UniqueEvents, s.Retried, s.Rejected, s.Stale, s.Malformed, s.Foreign)
			switch {
			case s.Verified == 0 || s.Events == 0:
				t.Errorf("run %d: %s delivered nothing", run, a.id())
			case s.Rejected != 0:
				t.Errorf("run %d: %s: %d deliveries failed its signature check", run, a.id(), s.Rejected)
			case s.Stale != 0 || s.Malformed != 0:
				t.Errorf("run %d: %s: %d stale, %d malformed deliveries", run, a.id(), s.Stale, s.Malformed)
			case s.Foreign != 0:
				t.Errorf("run %d: %s's receiver got %d events of another application", run, a.id(), s.Foreign)
			}
		}
		if pro := r.Demo.apps[1].recv.Stats(); pro.Events != pro.Verified {
			t.Errorf("run %d: momentumpro: %d events in %d POSTs, want one event per POST", run, pro.Events, pro.Verified)
		}
		if studio := r.Demo.apps[0].recv.Stats(); studio.Events <= studio.Verified {
			t.Errorf("run %d: momentum studio: %d events in %d POSTs, want batches", run, studio.Events, studio.Verified)
		}
	}
}

// checkDemoRegistry checks, through the API, that both applications are
// registered with their documents' dialects and that the first tenant has
// the demo's three endpoints, each naming its application.
func checkDemoRegistry(t *testing.T, r devReady) {
	t.Helper()
	ctx := context.Background()
	cl := newAPIClient(r.API, r.Key)
	var apps struct {
		Data []struct {
			ID      string
			Dialect struct {
				HeaderPrefix, UserAgent, SignatureFormat, RetryPolicy, Timeout string
				MaxItems                                                       int
				Payload                                                        struct{ Shape string }
			}
		}
	}
	if err := cl.do(ctx, "GET", "/v1/applications", nil, &apps); err != nil {
		t.Fatal(err)
	}
	dialects := map[string]string{}
	for _, a := range apps.Data {
		d := a.Dialect
		dialects[a.ID] = strings.Join([]string{d.HeaderPrefix, d.UserAgent, d.SignatureFormat, d.RetryPolicy, d.Timeout, d.Payload.Shape}, " ")
		if a.ID == demo.MomentumproID && d.MaxItems != 1 {
			t.Errorf("momentumpro maxItems %d, want 1", d.MaxItems)
		}
	}
	want := map[string]string{
		demo.MomentumStudioID: "X-Momentum Momentum-Webhook/1.0 sha256 any 10s full",
		demo.MomentumproID:    "X-Momentumpro Hookline-Webhook/1.0 hex 5xx 10s legacy",
	}
	for id, w := range want {
		if dialects[id] != w {
			t.Errorf("application %s: dialect %q, want %q", id, dialects[id], w)
		}
	}
	var eps struct {
		Data []struct{ Name, Application string }
	}
	if err := cl.do(ctx, "GET", "/v1/endpoints", nil, &eps); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range eps.Data {
		got[e.Name] = e.Application
	}
	wantEps := map[string]string{"demo batches": demo.MomentumStudioID, "demo task events": demo.MomentumStudioID, "demo momentumpro": demo.MomentumproID}
	if len(got) != len(eps.Data) || len(got) != len(wantEps) {
		t.Errorf("endpoints of %s: %+v, want %v", r.Tenant, eps.Data, wantEps)
	}
	for name, app := range wantEps {
		if got[name] != app {
			t.Errorf("endpoint %q names application %q, want %q", name, got[name], app)
		}
	}
}

// waitDemo polls the demo's receivers until done says enough arrived.
func waitDemo(t *testing.T, d *devDemo, within time.Duration, done func(map[string]demo.Stats) bool) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		s := map[string]demo.Stats{}
		for _, a := range d.apps {
			s[a.id()] = a.recv.Stats()
		}
		if done(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo within %s: %+v", within, s)
		}
	}
}

func TestProgressLineShowsEachApplication(t *testing.T) {
	apps := []appProgress{
		{ID: demo.MomentumStudioID, Stats: demo.Stats{Events: 1234, Verified: 56}},
		{ID: demo.MomentumproID, Stats: demo.Stats{Events: 345, Verified: 345}},
	}
	want := "produced 1,579 · momentum-studio: 1,234 events → 56 POSTs, 0 bad signatures | momentumpro: 345 events → 345 POSTs, 0 bad signatures · retrying 3 · dead 0"
	if got := progressLine(1579, apps, 3, 0); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
	// What goes wrong shows beside its application only.
	apps[1].Stats.Rejected, apps[1].Stats.Stale, apps[0].Stats.Foreign = 2, 1, 1000
	want = "produced 1,579 · momentum-studio: 1,234 events → 56 POSTs, 0 bad signatures, 1,000 foreign events | momentumpro: 345 events → 345 POSTs, 2 bad signatures, 1 stale timestamps · retrying 3 · dead 1"
	if got := progressLine(1579, apps, 3, 1); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
}

func TestGrouped(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234", 100000: "100,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}
