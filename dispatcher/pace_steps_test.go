package dispatcher_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestSendersInStepKeepUp: a single healthy endpoint with a backlog
// answers 200 in 150ms, single events, 4 senders (26 events/s; 150ms per
// delivery is under QueueWait x senders = 400ms, so it keeps up). Its four
// senders start together and free together, every 150ms: longer than
// QueueWait, within the wait budget. Nothing is deferred.
func TestSendersInStepKeepUp(t *testing.T) {
	for _, tc := range []struct {
		conc  int
		delay time.Duration
	}{{4, 150 * time.Millisecond}} {
		t.Run("conc"+strconv.Itoa(tc.conc), func(t *testing.T) {
			testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
				s := newSink(t, "X-Hookline")
				s.SetStatus(func(int) int { return http.StatusOK })
				s.SetDelay(tc.delay)
				ep := endpointFor("only", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })
				f := newFixture(t, b, []*endpoints.Endpoint{ep}, func(c *dispatcher.Config) { c.Concurrency = tc.conc })
				const n = 200
				for i := 0; i < n; i++ {
					f.publish(t, taskEvent("t-1", "h"+strconv.Itoa(i), "s"))
				}
				time.Sleep(4 * time.Second)
				st := f.d.Stats()
				t.Logf("conc %d delay %s: stats %+v", tc.conc, tc.delay, st)
				if st.Deferred > 0 {
					t.Fatalf("a healthy endpoint alone with a backlog had %d deliveries deferred to the retry tier", st.Deferred)
				}
			})
		})
	}
}
