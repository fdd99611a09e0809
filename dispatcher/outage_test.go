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

// TestKafkaOutageResendsNothing: Kafka goes away from the dispatcher for
// 20s, with no crash, while slow deliveries (3s answers, single events,
// concurrency 4) are in flight and more wait in the endpoint's queue
// (60 events: 45s of sending, so some are still queued when it returns). The
// member loses its partitions (a heartbeat fails) and gets them back once
// Kafka returns. Every event reaches the receiver exactly once: what was
// in flight finished and was marked, what was only queued was dropped and
// read again, and the member re-read the partition only after its own
// deliveries of it had settled.
func TestKafkaOutageResendsNothing(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const outageFor = 20 * time.Second
		s := newSink(t, "X-Hookline")
		s.SetStatus(func(int) int { return http.StatusOK })
		s.SetDelay(3 * time.Second)
		ep := endpointFor("slow", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })
		outage := testbackend.NewOutage()
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, func(c *dispatcher.Config) {
			c.Concurrency = 4
			c.KafkaOpts = append(c.KafkaOpts, outage.Opt())
		})
		const n = 60
		var ids []string
		for i := 0; i < n; i++ {
			ids = append(ids, f.publish(t, taskEvent("t-1", "o"+strconv.Itoa(i), "s"))...)
		}
		// Cut once four requests are in flight and the rest are queued.
		deadline := time.Now().Add(30 * time.Second)
		for {
			posts, _ := s.Snapshot()
			if len(posts) >= 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d requests in flight after 30s, want 4", len(posts))
			}
			time.Sleep(10 * time.Millisecond)
		}
		outage.Cut()
		time.Sleep(outageFor)
		outage.Restore()
		// Still slow while the member rejoins, so that a copy of what it
		// was sending would be sent again now; then fast, to finish.
		time.Sleep(10 * time.Second)
		s.SetDelay(0)

		got := s.Delivered(t, n, 90*time.Second)
		time.Sleep(2 * time.Second) // a late copy would arrive now
		got = s.Delivered(t, n, time.Second)
		dups := 0
		for _, id := range ids {
			if got[id] != 1 {
				dups += got[id] - 1
				if got[id] == 0 {
					t.Errorf("event %s never arrived", id)
				}
			}
		}
		posts, _ := s.Snapshot()
		t.Logf("kafka outage of %s with slow deliveries in flight: %d events, %d posts, %d duplicate events; stats %+v",
			outageFor, n, len(posts), dups, f.d.Stats())
		if dups > 0 {
			t.Fatalf("%d events were delivered more than once after a Kafka outage without a crash", dups)
		}
	})
}
