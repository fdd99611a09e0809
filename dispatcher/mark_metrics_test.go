package dispatcher_test

import (
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

var _ dispatcher.MarkMetrics = (*metrics.Dispatcher)(nil)

// TestMarkFiguresCountEverySettledDelivery: with the process's metrics,
// every single-event delivery settled shows as one mark wait and one mark
// carried by a round trip, and the round trips are no more than the marks
// (four slots in flight share them).
func TestMarkFiguresCountEverySettledDelivery(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const n = 60
		s := newSink(t, "X-Hookline")
		m := metrics.New()
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })},
			func(c *dispatcher.Config) {
				c.Metrics = m.Dispatcher(c.Group)
				c.Concurrency = 4
			})
		evs := make([]producer.Event, n)
		for i := range evs {
			evs[i] = taskEvent("t-1", "abc123", "Todo")
		}
		f.publish(t, evs...)
		s.Delivered(t, n, 20*time.Second)
		// The last mark is stored just after its POST was answered.
		figure := func(name string) (count, sum float64) {
			fams, err := m.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, fam := range fams {
				if fam.GetName() != name {
					continue
				}
				s := fam.GetMetric()[0]
				if h := s.GetHistogram(); h != nil {
					return float64(h.GetSampleCount()), h.GetSampleSum()
				}
				return s.GetCounter().GetValue(), 0
			}
			t.Fatalf("no %s", name)
			return 0, 0
		}
		deadline := time.Now().Add(10 * time.Second)
		for waits, _ := figure("hookline_mark_wait_seconds"); waits < n && time.Now().Before(deadline); waits, _ = figure("hookline_mark_wait_seconds") {
			time.Sleep(10 * time.Millisecond)
		}
		waits, waitSum := figure("hookline_mark_wait_seconds")
		marks, _ := figure("hookline_marks_total")
		trips, _ := figure("hookline_mark_round_trip_seconds")
		if waits != n || marks != n {
			t.Fatalf("%v mark waits and %v marks for %d deliveries, want %d each", waits, marks, n, n)
		}
		if trips < 1 || trips > n {
			t.Fatalf("%v round trips for %d marks", trips, n)
		}
		if waitSum <= 0 {
			t.Fatalf("mark waits sum to %v", waitSum)
		}
		t.Logf("%d marks in %v round trips, mean wait %v", n, trips, time.Duration(waitSum/waits*float64(time.Second)))
	})
}
