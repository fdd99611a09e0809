package retrier_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
)

// TestSlowEndpointDoesNotTakeEverySlot: 40 due deliveries of an endpoint
// that answers 200 after 4s sit at the head of a tier partition, 40 of a
// healthy endpoint behind them (default 16 slots per partition, 4 per
// endpoint, default timeout). The healthy ones are posted at once, not
// after the slow ones have had the slots; the slow endpoint never has more
// than 4 requests in flight; its other deliveries are deferred in the tier
// and, once it answers at once, every one arrives exactly once.
func TestSlowEndpointDoesNotTakeEverySlot(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		slowRcv := testbackend.NewReceiver(t, "X-Hookline", secret)
		fastRcv := testbackend.NewReceiver(t, "X-Hookline", secret)
		slowRcv.SetStatus(func(int) int { return http.StatusOK })
		slowRcv.SetDelay(4 * time.Second)
		ep := func(id string, s *testbackend.Receiver) *endpoints.Endpoint {
			return &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: s.URL() + "/" + id, Secrets: []string{secret}, MaxItems: 1}
		}
		r := newTierRig(t, b, []time.Duration{2 * time.Second, time.Minute}, ep("slow", slowRcv), ep("fast", fastRcv))
		ret, err := retrier.New(r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, ret)
		tier0 := r.tiers.Topic(0)
		warm := pending("fast", 1, 0, time.Now())
		r.write(t, tier0, warm)
		firstPost(t, fastRcv, warm.ID, 20*time.Second)

		var slow, fast []*delivery.Delivery
		for i := 0; i < 40; i++ {
			slow = append(slow, pending("slow", 1, 0, time.Now()))
		}
		for i := 0; i < 40; i++ {
			fast = append(fast, pending("fast", 1, 0, time.Now()))
		}
		r.write(t, tier0, append(slices.Clone(slow), fast...)...)

		var worst time.Duration
		for _, d := range fast {
			worst = max(worst, firstPost(t, fastRcv, d.ID, 30*time.Second).At.Sub(d.Due))
		}
		posts, _ := slowRcv.Snapshot()
		st := ret.Stats()
		t.Logf("healthy deliveries behind 40 slow ones: latest posted %s after its due; slow posts so far %d; stats %+v",
			worst.Round(time.Millisecond), len(posts), st)
		if worst > 2*time.Second {
			t.Fatalf("a healthy delivery waited %s behind a slow endpoint's (it answers in 4s)", worst)
		}
		for deadline := time.Now().Add(5 * time.Second); ret.Stats().Deferred == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no slow delivery was deferred: they wait for the slow endpoint in memory")
			}
		}
		if inFlight := maxConcurrent(slowRcv, 4*time.Second); inFlight > 4 {
			t.Fatalf("the slow endpoint had %d requests in flight, want at most 4", inFlight)
		}

		slowRcv.SetDelay(0)
		for _, d := range slow {
			firstPost(t, slowRcv, d.ID, 60*time.Second)
		}
		time.Sleep(time.Second) // a second copy would arrive by now
		seen := map[string]int{}
		posts, _ = slowRcv.Snapshot()
		for _, p := range posts {
			seen[p.Header.Get("X-Hookline-Delivery")]++
		}
		for _, d := range slow {
			if seen[d.ID] != 1 {
				t.Fatalf("slow delivery %s posted %d times, want once", d.ID, seen[d.ID])
			}
		}
	})
}

// maxConcurrent is the most requests s held at once, each taken to last
// hold from its arrival (a receiver that answers after hold).
func maxConcurrent(s *testbackend.Receiver, hold time.Duration) int {
	posts, _ := s.Snapshot()
	most := 0
	for _, p := range posts {
		n := 0
		for _, q := range posts {
			if !q.At.After(p.At) && q.At.Add(hold).After(p.At) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}
