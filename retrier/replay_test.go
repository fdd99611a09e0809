package retrier_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
)

// TestReplayDeliversDeadLettersOnceEvenWhenRunTwice exhausts the schedule
// for three deliveries, lets the endpoint recover, replays one by id and
// then all of them in bulk twice: each delivery gets exactly one 2xx.
func TestReplayDeliversDeadLettersOnceEvenWhenRunTwice(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(4, 500, "") // every attempt of the schedule fails
		r := newRig(t, b, endpoint(s, nil))
		r.publish(t, 3)
		dead := r.dead(t, 3)
		failed, _ := s.Snapshot()
		if len(failed) != 12 {
			t.Fatalf("%d failed attempts, want 4 per delivery", len(failed))
		}

		rp := &retrier.Replayer{Brokers: b.Brokers, Topics: r.topics, Retry: r.tiers}
		ctx := context.Background()
		one, err := rp.One(ctx, dead[0].ID)
		if err != nil || one.ID != dead[0].ID {
			t.Fatalf("replay one: %v %v", one, err)
		}
		s.Delivered(t, 1, 20*time.Second)

		for run := 1; run <= 2; run++ {
			var last int
			n, err := rp.Bulk(ctx, "ep1", time.Now().Add(-time.Hour), time.Time{}, 200, func(done, total int) { last = done })
			if err != nil || n != 3 || last != 3 {
				t.Fatalf("bulk run %d: enqueued %d (progress %d): %v", run, n, last, err)
			}
		}
		seen := s.Delivered(t, 3, 20*time.Second)
		time.Sleep(time.Second) // let every replayed record be processed
		posts, _ := s.Snapshot()
		ok := map[string]int{}
		for _, p := range posts {
			if p.Status/100 == 2 {
				ok[p.Header.Get("X-Hookline-Delivery")]++
			}
		}
		for _, d := range dead {
			if ok[d.ID] != 1 {
				t.Fatalf("delivery %s got %d 2xx answers after replays, want 1", d.ID, ok[d.ID])
			}
		}
		if len(seen) != 3 {
			t.Fatalf("events delivered: %v", seen)
		}
		if st := r.ret.Stats(); st.AlreadyDone < 3 {
			t.Fatalf("retrier stats %+v: replays of delivered deliveries were not recognised", st)
		}
	})
}

func TestReplayUnknownDelivery(t *testing.T) {
	b := testbackend.NewFake(t)
	rp := &retrier.Replayer{Brokers: b.Brokers}
	if _, err := rp.One(context.Background(), "0123456789abcdef01234567"); !errors.Is(err, retrier.ErrNotFound) {
		t.Fatalf("replaying a delivery that does not exist: %v", err)
	}
}
