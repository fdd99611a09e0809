package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Job is the progress of a bulk replay, kept in Redis so every API replica
// answers for it.
type Job struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenantId"`
	EndpointID string    `json:"endpointId"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
	Rate       float64   `json:"rate"`
	// State is JobRunning, JobDone, JobFailed or JobInterrupted.
	State string `json:"state"`
	// Done of Total dead letters re-enqueued so far; Total is known once
	// the dead letters are read.
	Done     int       `json:"done"`
	Total    int       `json:"total"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
}

// Job states.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
	// JobInterrupted: the process running it stopped; start it again (a
	// replay never sends a 2xx'd delivery twice).
	JobInterrupted = "interrupted"
)

// jobStale is how long a running job may go without a progress write
// before it is reported interrupted: progress is written every jobBeat.
const (
	jobBeat  = 5 * time.Second
	jobStale = 4 * jobBeat
)

// Jobs runs Retry now and bulk replays for the API, per tenant: a
// delivery or job of another tenant is ErrNotFound.
type Jobs struct {
	// Replayer re-enqueues the deliveries. Required.
	Replayer *Replayer
	// Redis keeps the jobs' progress. Required.
	Redis redis.Cmdable
	// Prefix namespaces keys. Default "hookline:".
	Prefix string
	// TTL of a job's progress. Default 7 days.
	TTL time.Duration
	// Logger. Default nil: silent.
	Logger *zap.Logger
}

// RetryNow sends the tenant's delivery id again at once, with its id and
// body: a pending one moves forward (its new epoch supersedes the waiting
// record), a dead letter gets a new chain; a delivered one is a no-op for
// the retrier's done mark.
func (j *Jobs) RetryNow(ctx context.Context, tenant, id string) error {
	_, err := j.Replayer.One(ctx, tenant, id)
	return err
}

// Start begins replaying the endpoint's dead letters written in
// [since, until) at rate a second, and returns the job at once; it runs
// until done or until the process stops.
func (j *Jobs) Start(ctx context.Context, tenant, endpointID string, since, until time.Time, rate float64) (Job, error) {
	if until.IsZero() {
		until = time.Now()
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	now := time.Now().UTC()
	job := Job{ID: "rpl_" + hex.EncodeToString(b), TenantID: tenant, EndpointID: endpointID, Since: since, Until: until,
		Rate: rate, State: JobRunning, Started: now, Updated: now}
	if err := j.save(ctx, job); err != nil {
		return Job{}, err
	}
	go j.run(context.WithoutCancel(ctx), job)
	return job, nil
}

func (j *Jobs) run(ctx context.Context, job Job) {
	var mu sync.Mutex
	beat := func() {
		mu.Lock()
		job.Updated = time.Now().UTC()
		snap := job
		mu.Unlock()
		if err := j.save(ctx, snap); err != nil {
			j.log().Warn("replay progress not saved", zap.String("job", snap.ID), zap.Error(err))
		}
	}
	stop := make(chan struct{})
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		t := time.NewTicker(jobBeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				beat()
			}
		}
	}()
	n, err := j.Replayer.bulk(ctx, job.EndpointID, job.Since, job.Until, job.Rate,
		func(tenantID string) bool { return tenantID == job.TenantID },
		func(done, total int) {
			mu.Lock()
			job.Done, job.Total = done, total
			mu.Unlock()
		})
	close(stop)
	<-beats
	job.Done, job.Updated, job.Finished = n, time.Now().UTC(), time.Now().UTC()
	job.State = JobDone
	if err != nil {
		job.State, job.Error = JobFailed, err.Error()
		j.log().Warn("replay failed", zap.String("job", job.ID), zap.String("endpoint", job.EndpointID), zap.Error(err))
	}
	if serr := j.save(ctx, job); serr != nil {
		j.log().Warn("replay progress not saved", zap.String("job", job.ID), zap.Error(serr))
	}
}

// Job returns the tenant's job id.
func (j *Jobs) Job(ctx context.Context, tenant, id string) (Job, error) {
	v, err := j.Redis.Get(ctx, j.key(tenant, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Job{}, fmt.Errorf("%w: replay %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read replay %s: %w", id, err)
	}
	var job Job
	if err := json.Unmarshal(v, &job); err != nil {
		return Job{}, fmt.Errorf("read replay %s: %w", id, err)
	}
	if job.State == JobRunning && time.Since(job.Updated) > jobStale {
		job.State = JobInterrupted
	}
	return job, nil
}

func (j *Jobs) save(ctx context.Context, job Job) error {
	v, _ := json.Marshal(job)
	ttl := j.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	if err := j.Redis.Set(ctx, j.key(job.TenantID, job.ID), v, ttl).Err(); err != nil {
		return fmt.Errorf("save replay %s: %w", job.ID, err)
	}
	return nil
}

// key holds the tenant, so another tenant's job id finds nothing.
func (j *Jobs) key(tenant, id string) string {
	p := j.Prefix
	if p == "" {
		p = "hookline:"
	}
	return p + "replay:" + tenant + ":" + id
}

func (j *Jobs) log() *zap.Logger {
	if j.Logger == nil {
		return zap.NewNop()
	}
	return j.Logger
}
