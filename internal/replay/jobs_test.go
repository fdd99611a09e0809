package replay_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestJobsAreTheTenants: Retry now and a bulk replay job act only on the
// caller's tenant, report progress from Redis, and each dead letter gets
// exactly one 2xx.
func TestJobsAreTheTenants(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
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
