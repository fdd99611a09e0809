package retrier_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
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

// TestReplayOfAPendingDeliveryMovesItForward replays a delivery that waits
// in the last tier: it is attempted at once and gets its 2xx, and the
// waiting record, once due, neither posts it again nor dead-letters it.
func TestReplayOfAPendingDeliveryMovesItForward(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(3, 500, "") // the dispatcher, tier 0 and tier 1 fail; tier 2 waits
		delays := []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 4 * time.Second}
		r := newRigWith(t, b, delays, endpoint(s, nil))
		r.publish(t, 1)
		deadline := time.Now().Add(20 * time.Second)
		var failed []testbackend.Post
		for len(failed) < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%d failed attempts, want 3 before the long tier", len(failed))
			}
			time.Sleep(10 * time.Millisecond)
			failed, _ = s.Snapshot()
		}
		id := failed[0].Header.Get("X-Hookline-Delivery")
		// The third failure's record is in the long tier once the attempt
		// log has it.
		time.Sleep(300 * time.Millisecond)
		pendingDue := failed[2].At.Add(delays[2])

		rp := &retrier.Replayer{Brokers: b.Brokers, Topics: r.topics, Retry: r.tiers}
		asked := time.Now()
		got, err := rp.One(context.Background(), id)
		if err != nil || got.ID != id {
			t.Fatalf("replay one: %v %v", got, err)
		}
		var ok time.Time
		for ok.IsZero() {
			if time.Now().After(pendingDue) {
				t.Fatal("no 2xx before the waiting record came due")
			}
			time.Sleep(10 * time.Millisecond)
			posts, _ := s.Snapshot()
			for _, p := range posts {
				if p.Status/100 == 2 {
					ok = p.At
				}
			}
		}
		time.Sleep(time.Until(pendingDue.Add(2 * time.Second)))
		posts, _ := s.Snapshot()
		dead := 0
		if err := retrier.Scan(context.Background(), b.Brokers, []string{r.topics.Dead}, func(*delivery.Delivery, time.Time) { dead++ }); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("replay pending (%s): replayed at attempt %d; 2xx %s after the replay, %s before the pending record's due; posts=%d dead=%d",
			b.Name, got.Attempt, ok.Sub(asked).Round(time.Millisecond), pendingDue.Sub(ok).Round(time.Millisecond), len(posts), dead)
		t.Log(msg)
		fmt.Println(msg)
		if got.Attempt != 3 {
			t.Fatalf("replayed the record of attempt %d, not the waiting one of attempt 3", got.Attempt)
		}
		if len(posts) != 4 {
			t.Fatalf("%d posts of the delivery, want 3 failures and one 2xx", len(posts))
		}
		if ok.Sub(asked) > 2*time.Second {
			t.Fatalf("the replay took %s to deliver", ok.Sub(asked))
		}
		if dead != 0 {
			t.Fatalf("%d dead letters", dead)
		}
	})
}
