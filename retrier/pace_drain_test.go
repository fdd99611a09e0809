package retrier_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
)

// TestEndpointBacklogDrainsAtItsPace: 40 due deliveries of an endpoint that
// answers in 150ms (above QueueWait, but 37ms per slot at 4 slots) are sent
// at its pace, none deferred: its four attempts start and end together,
// which is no sign of falling behind.
func TestEndpointBacklogDrainsAtItsPace(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			time.Sleep(150 * time.Millisecond)
		}))
		t.Cleanup(srv.Close)
		ep := &endpoints.Endpoint{ID: "e", TenantID: "t-1", URL: srv.URL + "/e", Secrets: []string{secret}, MaxItems: 1}
		r := newTierRig(t, b, []time.Duration{2 * time.Second, time.Hour}, ep)
		ret, err := retrier.New(r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, ret)
		var ds []*delivery.Delivery
		for i := 0; i < 40; i++ {
			ds = append(ds, pending("e", 1, 0, time.Now()))
		}
		r.write(t, r.tiers.Topic(0), ds...)
		start := time.Now()
		for n.Load() < 40 && time.Since(start) < 10*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("after %s: posts %d, stats %+v", time.Since(start).Round(time.Millisecond), n.Load(), ret.Stats())
		if n.Load() < 40 || ret.Stats().Deferred > 0 {
			t.Fatalf("after 10s %d of 40 posted to an endpoint that takes 26/s, %d deferred", n.Load(), ret.Stats().Deferred)
		}
	})
}
