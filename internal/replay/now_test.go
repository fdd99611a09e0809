package replay_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run the default schedule, whose first tier waits a minute:
// how long a replay waits is their point, and a tier of milliseconds
// would hide it.

// backlog is how many records the first tier holds, due later, when a
// replay is asked for.
const backlog = 1000

// fillFirstTier writes backlog deliveries of endpoint ep, due after the
// first tier's delay, to the first tier, as failed first attempts leave
// them. The tier has one partition, so every record written to it later
// waits behind them.
func fillFirstTier(t *testing.T, r *rig, ep *endpoints.Endpoint) {
	t.Helper()
	write(t, r, ep, r.tiers.Topic(0), backlog, r.tiers.Delay(0), "HTTP 500")
}

// write writes n deliveries of endpoint ep to topic as a failed first
// attempt leaves them, due after wait, and returns them.
func write(t *testing.T, r *rig, ep *endpoints.Endpoint, topic string, n int, wait time.Duration, reason string) []*delivery.Delivery {
	t.Helper()
	cl := r.b.Client(t, kafka.ProducerOpts()...)
	now := time.Now()
	ds := make([]*delivery.Delivery, n)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		ds[i] = &delivery.Delivery{ID: delivery.NewID(), EndpointID: ep.ID, TenantID: ep.TenantID, EventType: "task.created", Items: 1,
			Body: []byte(`{"n":` + strconv.Itoa(i) + `}`), Attempt: 1, FirstAttempt: now, LastStatus: 500, Reason: reason,
			Due: now.Add(wait), Tier: 0}
		recs[i] = ds[i].Record(topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return ds
}

// firstPost waits for the receiver's first post and returns its delivery id.
func firstPost(t *testing.T, s *testbackend.Receiver) (string, time.Time) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ps, _ := s.Snapshot(); len(ps) > 0 {
			return ps[0].Header.Get("X-Hookline-Delivery"), ps[0].At
		}
	}
	t.Fatal("no post within 30s")
	return "", time.Time{}
}

// okAt waits up to within for the receiver's 2xx to delivery id and
// returns when it came (zero: none came).
func okAt(s *testbackend.Receiver, id string, within time.Duration) time.Time {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		ps, _ := s.Snapshot()
		for _, p := range ps {
			if p.Status/100 == 2 && p.Header.Get("X-Hookline-Delivery") == id {
				return p.At
			}
		}
	}
	return time.Time{}
}

// TestRetryNowIsAttemptedWithinASecond: with the first tier holding a
// thousand records due in a minute, Retry now of a dead letter and of a
// delivery pending in that tier (behind those records) is POSTed within a
// second, once; and the pending delivery's copy in the tier, once due, is
// not attempted again.
func TestRetryNowIsAttemptedWithinASecond(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		deadRecv := testbackend.NewReceiver(t, "X-Hookline", secret)
		deadRecv.FailFirst(1, 400, "") // final under retryPolicy 5xx: a dead letter
		pendRecv := testbackend.NewReceiver(t, "X-Hookline", secret)
		pendRecv.FailFirst(1, 500, "") // retried: waits in the first tier
		fillRecv := testbackend.NewReceiver(t, "X-Hookline", secret)
		fill := endpoint("ep-fill", "t-3", fillRecv, nil)
		r := newRig(t, b, nil,
			endpoint("ep-dead", "t-1", deadRecv, func(e *endpoints.Endpoint) { e.RetryPolicy = "5xx" }),
			endpoint("ep-pend", "t-2", pendRecv, nil), fill)
		fillFirstTier(t, r, fill)
		r.publish(t, "t-1", 1)
		r.publish(t, "t-2", 1)
		deadID, _ := firstPost(t, deadRecv)
		pendID, failedAt := firstPost(t, pendRecv)
		r.located(t, "t-1", deadID, r.topics.Dead)
		pending := r.located(t, "t-2", pendID, r.tiers.Topic(0))
		pendingDue := failedAt.Add(r.tiers.Delay(0))

		ctx := context.Background()
		for _, c := range []struct {
			what, tenant, id string
			recv             *testbackend.Receiver
		}{{"a dead letter", "t-1", deadID, deadRecv}, {"a pending delivery", "t-2", pendID, pendRecv}} {
			asked := time.Now()
			if err := r.jobs.RetryNow(ctx, c.tenant, c.id); err != nil {
				t.Fatal(err)
			}
			returned := time.Since(asked)
			at := okAt(c.recv, c.id, 5*time.Second)
			took := at.Sub(asked)
			msg := fmt.Sprintf("Retry now of %s (%s): call returned in %s, POSTed %s after it; %s holds %d records due later",
				c.what, b.Name, returned.Round(time.Millisecond), took.Round(time.Millisecond), r.tiers.Topic(0), backlog+1)
			if at.IsZero() {
				msg = fmt.Sprintf("Retry now of %s (%s): not POSTed within 5s", c.what, b.Name)
			}
			fmt.Println(msg)
			if at.IsZero() || took > time.Second {
				t.Errorf("%s; want it POSTed within 1s", msg)
			}
		}
		if t.Failed() {
			return
		}

		// The pending delivery's copy sits behind the backlog, at offset
		// pending.Offset; once it is due, the retrier reaches it and skips
		// it: the delivery got its 2xx in a newer epoch.
		deadline := pendingDue.Add(60 * time.Second)
		for r.ret.Stats().AlreadyDone < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the superseded copy at %s was not reached by %s: %+v", pending, deadline.Format(time.TimeOnly), r.ret.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
		skipped := time.Now()
		time.Sleep(time.Second)
		for _, c := range []struct {
			id   string
			recv *testbackend.Receiver
		}{{deadID, deadRecv}, {pendID, pendRecv}} {
			all, ok := posts(c.recv)
			if all[c.id] != 2 || ok[c.id] != 1 {
				t.Fatalf("delivery %s: %d posts, %d of them 2xx; want its first attempt and one 2xx", c.id, all[c.id], ok[c.id])
			}
		}
		if _, ok := posts(fillRecv); len(ok) != backlog {
			t.Fatalf("%d of the %d records ahead were delivered", len(ok), backlog)
		}
		st := r.ret.Stats()
		fmt.Printf("superseded copy (%s): skipped %s after its due, behind %d records; retrier %+v\n",
			b.Name, skipped.Sub(pendingDue).Round(time.Millisecond), backlog, st)
		if st.AlreadyDone != 1 || st.AlreadyHanded != 0 {
			t.Fatalf("retrier stats %+v: want the one superseded copy skipped as done", st)
		}
	})
}

// TestBulkReplayKeepsItsRate: a hundred dead letters replayed at 50 a
// second are POSTed over two seconds (±25%), each once, although the
// first tier holds a thousand records due later.
func TestBulkReplayKeepsItsRate(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		const n, rate = 100, 50
		recv := testbackend.NewReceiver(t, "X-Hookline", secret)
		fillRecv := testbackend.NewReceiver(t, "X-Hookline", secret)
		fill, ep := endpoint("ep-fill", "t-3", fillRecv, nil), endpoint("ep-dead", "t-1", recv, nil)
		r := newRig(t, b, nil, ep, fill)
		fillFirstTier(t, r, fill)
		dead := write(t, r, ep, r.topics.Dead, n, 0, "HTTP 400")

		ctx := context.Background()
		start := time.Now()
		job, err := r.jobs.Start(ctx, "t-1", "ep-dead", start.Add(-time.Hour), time.Time{}, rate)
		if err != nil {
			t.Fatal(err)
		}
		var first, last time.Time
		for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, ok := posts(recv); len(ok) == n {
				break
			}
		}
		ps, _ := recv.Snapshot()
		got := 0
		for _, p := range ps {
			if p.Status/100 == 2 {
				got++
				if first.IsZero() {
					first = p.At
				}
				last = p.At
			}
		}
		job = wait(t, r.jobs, "t-1", job.ID)
		took := last.Sub(start)
		msg := fmt.Sprintf("bulk replay (%s): %d dead letters at %d/s: %d POSTed, the first %s and the last %s after the start; job %d of %d in %s",
			b.Name, n, rate, got, first.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond),
			job.Done, job.Total, job.Finished.Sub(job.Started).Round(time.Millisecond))
		if got == 0 {
			msg = fmt.Sprintf("bulk replay (%s): %d dead letters at %d/s: none POSTed within 10s; job %d of %d in %s",
				b.Name, n, rate, job.Done, job.Total, job.Finished.Sub(job.Started).Round(time.Millisecond))
		}
		fmt.Println(msg)
		if got != n || took < 1500*time.Millisecond || took > 2500*time.Millisecond {
			t.Fatalf("%s; want all %d POSTed over 2s ±25%%", msg, n)
		}
		_, ok := posts(recv)
		for _, d := range dead {
			if ok[d.ID] != 1 {
				t.Fatalf("delivery %s got %d 2xx answers, want 1", d.ID, ok[d.ID])
			}
		}
	})
}
