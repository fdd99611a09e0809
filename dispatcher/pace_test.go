package dispatcher_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestSlowReceiverDoesNotPaceOtherTenants: a receiver that answers 200 but
// slowly (after 4s, or at once with a body trickled until the timeout),
// beside a healthy endpoint of another tenant, 20 events/s each, single
// events, concurrency 4, default timeout: it takes about 1 event/s, so its
// queue fills within seconds. The healthy endpoint still gets every event
// once, each well within the slow one's 4s (its pace, were it setting the
// partition's), and every event of the slow one is delivered or in the
// first retry tier.
func TestSlowReceiverDoesNotPaceOtherTenants(t *testing.T) {
	cases := []struct {
		name  string
		slow  func(*testbackend.Receiver)
		heal  func(*testbackend.Receiver)
		bound time.Duration
	}{
		{"slow-200", func(s *testbackend.Receiver) { s.SetDelay(4 * time.Second) }, func(s *testbackend.Receiver) { s.SetDelay(0) }, 2 * time.Second},
		{"trickle", func(s *testbackend.Receiver) { s.SetTrickle(500*time.Millisecond, 15*time.Second) },
			func(s *testbackend.Receiver) { s.SetTrickle(0, 0) }, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
				healthy, slow := newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
				slow.SetStatus(func(int) int { return http.StatusOK })
				tc.slow(slow)
				single := func(e *endpoints.Endpoint) { e.MaxItems = 1 }
				f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("healthy", "t-a", healthy, single), endpointFor("slow", "t-b", slow, single)},
					func(c *dispatcher.Config) { c.Concurrency = 4 })

				// 20 events/s to each tenant for 12s.
				const n = 240
				var healthyIDs, slowIDs []string
				tick := time.NewTicker(50 * time.Millisecond)
				for i := 0; i < n; i++ {
					<-tick.C
					healthyIDs = append(healthyIDs, f.publish(t, taskEvent("t-a", "a"+strconv.Itoa(i), "s"))...)
					slowIDs = append(slowIDs, f.publish(t, taskEvent("t-b", "b"+strconv.Itoa(i), "s"))...)
				}
				tick.Stop()
				got := healthy.Delivered(t, n, 30*time.Second)
				lat := latencies(t, healthy)
				var all []time.Duration
				for _, id := range healthyIDs {
					if got[id] != 1 {
						t.Fatalf("healthy endpoint got event %s %d times, want once", id, got[id])
					}
					all = append(all, lat[id])
				}
				slices.Sort(all)
				p99, worst := all[len(all)*99/100], all[len(all)-1]
				st := f.d.Stats()
				t.Logf("healthy endpoint beside a %s receiver: p50=%s p99=%s max=%s; stats %+v", tc.name,
					all[len(all)/2].Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond), st)
				if worst > tc.bound {
					t.Fatalf("healthy endpoint of another tenant held up by a %s receiver: max latency %s (p99 %s), want under %s",
						tc.name, worst, p99, tc.bound)
				}
				if st.Deferred == 0 {
					t.Error("nothing was deferred: the slow endpoint's overflow waited in memory")
				}

				// Nothing of the slow endpoint's is lost: once it answers at
				// once, each event is delivered or in the first retry tier.
				tc.heal(slow)
				waitAccounted(t, f, slow, slowIDs, 40*time.Second)
			})
		})
	}
}

// waitAccounted waits until every id was posted to s or sits in the first
// retry tier, and fails naming one that is neither.
func waitAccounted(t *testing.T, f *fixture, s *testbackend.Receiver, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]bool{}
		for id := range latencies(t, s) {
			seen[id] = true
		}
		for _, r := range f.b.ReadAll(t, f.retry.Topic(0), 1<<20, time.Second) {
			del, err := delivery.FromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events(t, del.Body) {
				seen[e["eventId"].(string)] = true
			}
		}
		missing := ""
		for _, id := range ids {
			if !seen[id] {
				missing = id
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s is neither delivered nor in the retry tier", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
