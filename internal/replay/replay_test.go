package replay_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestReplayDeliversDeadLettersOnceEvenWhenRunTwice exhausts the schedule
// for three deliveries, lets the endpoint recover, replays one by id and
// then all of them in bulk twice: each delivery gets exactly one 2xx.
func TestReplayDeliversDeadLettersOnceEvenWhenRunTwice(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(4, 500, "") // every attempt of the schedule fails
		r := newRig(t, b, shortSchedule, endpoint("ep1", "t-1", s, nil))
		r.publish(t, "t-1", 3)
		dead := r.dead(t, 3)
		failed, _ := s.Snapshot()
		if len(failed) != 12 {
			t.Fatalf("%d failed attempts, want 4 per delivery", len(failed))
		}

		ctx := context.Background()
		r.located(t, "t-1", dead[0].ID, r.topics.Dead)
		one, err := r.rp.One(ctx, "t-1", dead[0].ID)
		if err != nil || one.ID != dead[0].ID || one.Attempt != 4 {
			t.Fatalf("replay one: %+v %v", one, err)
		}
		s.Delivered(t, 1, 20*time.Second)

		for run := 1; run <= 2; run++ {
			var last int
			n, err := r.rp.Bulk(ctx, "ep1", time.Now().Add(-time.Hour), time.Time{}, 200, func(done, total int) { last = done })
			if err != nil || n != 3 || last != 3 {
				t.Fatalf("bulk run %d: enqueued %d (progress %d): %v", run, n, last, err)
			}
		}
		seen := s.Delivered(t, 3, 20*time.Second)
		time.Sleep(time.Second) // let every replayed record be processed
		_, ok := posts(s)
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

// TestRetryNowReadsTheLogNotTheTopics: Retry now sends what the attempt
// log's index names, and only that. A delivery whose dead letter is in
// the topic but that the index does not hold (here, its log entry was
// never written) is not found; nor is another tenant's, nor one whose
// place holds another delivery's record; one whose record the topic no
// longer keeps is gone. None of them is sent.
func TestRetryNowReadsTheLogNotTheTopics(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		r := newRig(t, b, shortSchedule, endpoint("ep1", "t-1", s, nil))
		ctx := context.Background()
		cl := b.Client(t, kafka.ProducerOpts()...)
		orphan := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep1", TenantID: "t-1", EventType: "task.created",
			Items: 1, Body: []byte(`{}`), Attempt: 4, FirstAttempt: time.Now(), Tier: -1}
		first := orphan.Record(r.topics.Dead)
		if err := cl.ProduceSync(ctx, first).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.rp.One(ctx, "t-1", orphan.ID); !errors.Is(err, replay.ErrNotFound) {
			t.Fatalf("Retry now of a delivery the log does not hold: %v, want ErrNotFound", err)
		}

		// A delivery the log places where the orphan is.
		misplaced := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep1", TenantID: "t-1", Attempt: 1}
		w, err := deliverylog.NewWriter(deliverylog.WriterConfig{Brokers: b.Brokers, Topic: r.topics.Attempts})
		if err != nil {
			t.Fatal(err)
		}
		w.Landed(misplaced, &deliverylog.Logged{Attempt: delivery.Attempt{Status: 400}, Outcome: delivery.Dead, Reason: "HTTP 400"}, first)
		w.Close()
		r.located(t, "t-1", misplaced.ID, r.topics.Dead)
		if _, err := r.rp.One(ctx, "t-1", misplaced.ID); !errors.Is(err, replay.ErrNotFound) {
			t.Fatalf("Retry now finding another delivery's record at its place: %v, want ErrNotFound", err)
		}
		if _, err := r.rp.One(ctx, "t-other", misplaced.ID); !errors.Is(err, replay.ErrNotFound) {
			t.Fatalf("Retry now of another tenant's delivery: %v, want ErrNotFound", err)
		}

		// The dead letters' retention removes the record the log names.
		var cut kadm.Offsets
		cut.AddOffset(first.Topic, first.Partition, first.Offset+1, -1)
		if _, err := b.Admin(t).DeleteRecords(ctx, cut); err != nil {
			t.Fatal(err)
		}
		w, err = deliverylog.NewWriter(deliverylog.WriterConfig{Brokers: b.Brokers, Topic: r.topics.Attempts})
		if err != nil {
			t.Fatal(err)
		}
		expired := &delivery.Delivery{ID: orphan.ID, EndpointID: "ep1", TenantID: "t-1", Attempt: 4}
		w.Landed(expired, &deliverylog.Logged{Attempt: delivery.Attempt{Status: 500}, Outcome: delivery.Dead, Reason: "HTTP 500"}, first)
		w.Close()
		r.located(t, "t-1", orphan.ID, r.topics.Dead)
		if _, err := r.rp.One(ctx, "t-1", orphan.ID); !errors.Is(err, replay.ErrGone) {
			t.Fatalf("Retry now of a delivery whose record is past retention: %v, want ErrGone", err)
		}
		time.Sleep(500 * time.Millisecond)
		if all, _ := posts(s); len(all) != 0 {
			t.Fatalf("posts %v, want none", all)
		}
	})
}

// TestReplayOfAPendingDeliveryMovesItForward replays a delivery that waits
// in the last tier: it is attempted at once and gets its 2xx, and the
// waiting record, once due, neither posts it again nor dead-letters it.
func TestReplayOfAPendingDeliveryMovesItForward(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(3, 500, "") // the dispatcher, tier 0 and tier 1 fail; tier 2 waits
		delays := []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 4 * time.Second}
		r := newRig(t, b, delays, endpoint("ep1", "t-1", s, nil))
		r.publish(t, "t-1", 1)
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
		r.located(t, "t-1", id, r.tiers.Topic(2))
		pendingDue := failed[2].At.Add(delays[2])

		asked := time.Now()
		got, err := r.rp.One(context.Background(), "t-1", id)
		if err != nil || got.ID != id {
			t.Fatalf("replay one: %v %v", got, err)
		}
		var ok time.Time
		for ok.IsZero() {
			if time.Now().After(pendingDue) {
				t.Fatal("no 2xx before the waiting record came due")
			}
			time.Sleep(10 * time.Millisecond)
			ps, _ := s.Snapshot()
			for _, p := range ps {
				if p.Status/100 == 2 {
					ok = p.At
				}
			}
		}
		time.Sleep(time.Until(pendingDue.Add(2 * time.Second)))
		ps, _ := s.Snapshot()
		dead := 0
		if err := replay.Scan(context.Background(), b.Brokers, nil, []string{r.topics.Dead}, func(*delivery.Delivery, time.Time) { dead++ }); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("replay pending (%s): replayed at attempt %d; 2xx %s after the replay, %s before the pending record's due; posts=%d dead=%d",
			b.Name, got.Attempt, ok.Sub(asked).Round(time.Millisecond), pendingDue.Sub(ok).Round(time.Millisecond), len(ps), dead)
		t.Log(msg)
		fmt.Println(msg)
		if got.Attempt != 3 {
			t.Fatalf("replayed the record of attempt %d, not the waiting one of attempt 3", got.Attempt)
		}
		if len(ps) != 4 {
			t.Fatalf("%d posts of the delivery, want 3 failures and one 2xx", len(ps))
		}
		if ok.Sub(asked) > 2*time.Second {
			t.Fatalf("the replay took %s to deliver", ok.Sub(asked))
		}
		if dead != 0 {
			t.Fatalf("%d dead letters", dead)
		}
	})
}

// TestJobsAreTheTenants: Retry now and a bulk replay job act only on the
// caller's tenant, report progress from Redis, and each dead letter gets
// exactly one 2xx.
func TestJobsAreTheTenants(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(4, 500, "") // every attempt of the schedule fails
		r := newRig(t, b, shortSchedule, endpoint("ep1", "t-1", s, nil))
		r.publish(t, "t-1", 3)
		dead := r.dead(t, 3)
		jobs := r.jobs
		ctx := context.Background()
		r.located(t, "t-1", dead[0].ID, r.topics.Dead)

		if err := jobs.RetryNow(ctx, "t-other", dead[0].ID); !errors.Is(err, replay.ErrNotFound) {
			t.Fatalf("Retry now of another tenant's delivery: %v, want ErrNotFound", err)
		}
		if err := jobs.RetryNow(ctx, "t-1", dead[0].ID); err != nil {
			t.Fatal(err)
		}
		s.Delivered(t, 1, 20*time.Second)

		other, err := jobs.Start(ctx, "t-other", "ep1", time.Now().Add(-time.Hour), time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		job, err := jobs.Start(ctx, "t-1", "ep1", time.Now().Add(-time.Hour), time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.Job(ctx, "t-other", job.ID); !errors.Is(err, replay.ErrNotFound) {
			t.Fatalf("another tenant reads the job: %v, want ErrNotFound", err)
		}
		got := wait(t, jobs, "t-1", job.ID)
		if got.Done != 3 || got.Total != 3 {
			t.Fatalf("job: %+v, want 3 of 3 re-enqueued", got)
		}
		if o := wait(t, jobs, "t-other", other.ID); o.Done != 0 || o.Total != 0 {
			t.Fatalf("another tenant's job over ep1 found %d of %d dead letters, want none", o.Done, o.Total)
		}
		s.Delivered(t, 3, 20*time.Second)
		time.Sleep(time.Second) // let every replayed record be processed
		_, ok := posts(s)
		for _, d := range dead {
			if ok[d.ID] != 1 {
				t.Fatalf("delivery %s got %d 2xx answers, want 1", d.ID, ok[d.ID])
			}
		}
		t.Logf("job %s: %s, %d of %d in %s", got.ID, got.State, got.Done, got.Total, got.Finished.Sub(got.Started).Round(time.Millisecond))
	})
}

func wait(t *testing.T, jobs *replay.Jobs, tenant, id string) replay.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := jobs.Job(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != replay.JobRunning {
			if j.State != replay.JobDone {
				t.Fatalf("job ended %s: %s", j.State, j.Error)
			}
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %+v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
