package dispatcher_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestOneSlowAnswerDefersNothingOfABacklog: a fast endpoint (5ms) with one
// slow answer (250ms) in every 100, alone, with a backlog of 1,000 events
// routed at memory speed: the hiccup is waited for, and nothing of a
// healthy endpoint's backlog is deferred to the retry tier.
func TestOneSlowAnswerDefersNothingOfABacklog(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%100 == 50 {
				time.Sleep(250 * time.Millisecond)
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}))
		t.Cleanup(srv.Close)
		ep := &endpoints.Endpoint{ID: "only", TenantID: "t-1", URL: srv.URL + "/h", Secrets: []string{secret}, MaxItems: 1}
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, func(c *dispatcher.Config) { c.Concurrency = 1 })
		const total = 1000
		for i := 0; i < total; i++ {
			f.publish(t, taskEvent("t-1", "h"+strconv.Itoa(i), "s"))
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := f.d.Stats()
			if st.Delivered+st.Deferred >= total || time.Now().After(deadline) {
				t.Logf("stats %+v, posts %d", st, n.Load())
				if st.Deferred > 0 {
					t.Fatalf("%d of %d events of a healthy endpoint deferred to the retry tier", st.Deferred, total)
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
