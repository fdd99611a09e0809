package dispatcher_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/testbackend"
)

// latencies returns, per eventId, the time from createdUtc to arrival at s.
func latencies(t *testing.T, s *testbackend.Receiver) map[string]time.Duration {
	posts, _ := s.Snapshot()
	out := map[string]time.Duration{}
	for _, p := range posts {
		for _, e := range events(t, p.Body) {
			created, err := time.Parse(envelope.TimeLayout, e["createdUtc"].(string))
			if err != nil {
				t.Fatal(err)
			}
			out[e["eventId"].(string)] = p.At.Sub(created)
		}
	}
	return out
}

func maxOf(m map[string]time.Duration, ids []string) time.Duration {
	var worst time.Duration
	for _, id := range ids {
		worst = max(worst, m[id])
	}
	return worst
}

// TestSlowEndpointDoesNotHoldUpAFastOne runs a fast and a slow endpoint of
// the same tenant. While the slow one times out on every request, the fast
// one's latency stays within one timeout of what it was with both healthy,
// the slow one's batches go to the retry tier instead of piling up, and
// buffered bytes stay under the cap. The cap is the least a Config takes
// (1 MiB), and each event carries an 11 KiB title, so the cap holds about
// ninety of them: few enough for the test's hundreds to press on it.
func TestSlowEndpointDoesNotHoldUpAFastOne(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const timeout = 400 * time.Millisecond
		const capBytes = 1 << 20
		title := strings.Repeat("duct ", 11<<10/5)
		fast, slow := newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
		opts := func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait, e.Timeout = 5, endpoints.Duration(50*time.Millisecond), endpoints.Duration(timeout)
		}
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("fast", "t-1", fast, opts), endpointFor("slow", "t-1", slow, opts)},
			func(c *dispatcher.Config) { c.MaxBufferedBytes = capBytes })

		burst := func(tag string, n int) []string {
			var ids []string
			for i := 0; i < n; i++ {
				ev := taskEvent("t-1", tag+strconv.Itoa(i%7), "s")
				ev.Data["task"].(map[string]any)["title"] = title
				ids = append(ids, f.publish(t, ev)...)
				time.Sleep(10 * time.Millisecond)
			}
			return ids
		}
		healthy := burst("h", 60)
		fast.Delivered(t, 60, 20*time.Second)
		slow.Delivered(t, 60, 20*time.Second)
		normal := maxOf(latencies(t, fast), healthy)

		slow.SetDelay(10 * timeout) // every request times out
		stalled := burst("s", 200)
		fast.Delivered(t, 260, 30*time.Second)
		during := maxOf(latencies(t, fast), stalled)
		t.Logf("fast endpoint max latency: %s with both healthy, %s beside a timing-out endpoint (timeout %s)", normal, during, timeout)
		if during > normal+timeout {
			t.Fatalf("fast endpoint held up: max latency %s, normal %s, timeout %s", during, normal, timeout)
		}

		// Nothing of the slow endpoint's is lost: every event is in a retry
		// record (failed or deferred unattempted).
		inRetry := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for len(inRetry) < len(stalled) && time.Now().Before(deadline) {
			for _, r := range f.b.ReadAll(t, f.retry.Topic(0), 1<<20, 2*time.Second) {
				del, err := delivery.FromRecord(r)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events(t, del.Body) {
					inRetry[e["eventId"].(string)] = true
				}
			}
		}
		got := latencies(t, slow) // a late 2xx cannot happen: the slow sink never answers in time
		for _, id := range stalled {
			if !inRetry[id] && got[id] == 0 {
				t.Fatalf("event %s of the slow endpoint is neither delivered nor in the retry tier", id)
			}
		}
		st := f.d.Stats()
		t.Logf("stats: %+v", st)
		if st.Deferred == 0 {
			t.Error("no batch was deferred: the slow endpoint's batches waited in memory")
		}
		// The cap is checked before each poll, sized to the room left: it may
		// be passed by at most a record or two per endpoint.
		if st.PeakBuffered > capBytes+capBytes/4 {
			t.Fatalf("peak buffered %d bytes, cap %d", st.PeakBuffered, capBytes)
		}
	})
}

// TestBusyHealthyEndpointAtConcurrencyIsNotDeferred: an endpoint kept busy
// at concurrency 2 (always a request in flight, each answered well within
// its timeout) is healthy however long the busy spell lasts: every event
// goes straight to it, none deferred to the retry tier. Counting only from
// the first request of a busy spell would call it slow after half a
// timeout.
func TestBusyHealthyEndpointAtConcurrencyIsNotDeferred(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const timeout = 500 * time.Millisecond
		s := newSink(t, "X-Hookline")
		s.SetDelay(40 * time.Millisecond) // a tenth of the timeout
		ep := endpointFor("busy", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.Timeout = 1, endpoints.Duration(timeout)
		})
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, func(c *dispatcher.Config) {
			c.Concurrency, c.MaxQueuedPerEndpoint = 2, 1
		})
		// About 2 s of work at 50 requests a second: several timeouts long.
		const n = 100
		var ids []string
		for i := 0; i < n; i++ {
			ids = append(ids, f.publish(t, taskEvent("t-1", "obj"+strconv.Itoa(i), "s"))...)
		}
		got := s.Delivered(t, n, 30*time.Second)
		st := f.d.Stats()
		t.Logf("stats: %+v", st)
		if st.Deferred != 0 {
			t.Fatalf("%d events deferred to the retry tier from a healthy endpoint", st.Deferred)
		}
		for _, id := range ids {
			if got[id] != 1 {
				t.Fatalf("event %s arrived %d times, want once", id, got[id])
			}
		}
	})
}
