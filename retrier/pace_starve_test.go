package retrier_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
)

// TestWaitingRecordLetsOthersBehindItGo: endpoint e answers in 30ms and
// keeps up. Tier 0's partition holds 800 due deliveries of e, which keep
// its 4 slots busy; tier 1's holds one of e at its head and 20 of another
// endpoint f behind it. The head waits for one of e's slots, and f's
// deliveries go meanwhile instead of waiting for e's backlog in the other
// partition.
func TestWaitingRecordLetsOthersBehindItGo(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		var ne atomic.Int64
		srvE := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ne.Add(1)
			time.Sleep(30 * time.Millisecond)
		}))
		t.Cleanup(srvE.Close)
		fRcv := testbackend.NewReceiver(t, "X-Hookline", secret)
		e := &endpoints.Endpoint{ID: "e", TenantID: "t-1", URL: srvE.URL + "/e", Secrets: []string{secret}, MaxItems: 1}
		f := &endpoints.Endpoint{ID: "f", TenantID: "t-1", URL: fRcv.URL() + "/f", Secrets: []string{secret}, MaxItems: 1}
		r := newTierRig(t, b, []time.Duration{5 * time.Second, 10 * time.Second, time.Hour}, e, f)
		ret, err := retrier.New(r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, ret)
		warm := pending("f", 1, 1, time.Now())
		r.write(t, r.tiers.Topic(1), warm)
		firstPost(t, fRcv, warm.ID, 20*time.Second)

		var es []*delivery.Delivery
		for i := 0; i < 800; i++ {
			es = append(es, pending("e", 1, 0, time.Now()))
		}
		r.write(t, r.tiers.Topic(0), es...)
		for ne.Load() < 8 {
			time.Sleep(5 * time.Millisecond)
		}
		var fs []*delivery.Delivery
		head := pending("e", 1, 1, time.Now())
		for i := 0; i < 20; i++ {
			fs = append(fs, pending("f", 1, 1, time.Now()))
		}
		r.write(t, r.tiers.Topic(1), append([]*delivery.Delivery{head}, slices.Clone(fs)...)...)
		var worst time.Duration
		for _, d := range fs {
			worst = max(worst, firstPost(t, fRcv, d.ID, 60*time.Second).At.Sub(d.Due))
		}
		t.Logf("f's worst wait %s; e posts %d; stats %+v", worst.Round(time.Millisecond), ne.Load(), ret.Stats())
		if worst > 2*time.Second {
			t.Fatalf("healthy endpoint f waited %s behind e's head in its partition while e's slots went to another partition", worst)
		}
	})
}
