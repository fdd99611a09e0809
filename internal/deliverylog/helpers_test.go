package deliverylog

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produce writes entries to topic as the pipeline does: JSON values keyed
// by delivery id.
func produce(t *testing.T, k testbackend.Kafka, topic string, entries ...Entry) {
	t.Helper()
	cl := k.Client(t, kafka.ProducerOpts()...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(entries))
	for _, e := range entries {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(e.DeliveryID), Value: v})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// running is an indexer started for a test.
type running struct {
	*Indexer
	cancel context.CancelFunc
	errc   chan error
	ran    chan struct{} // closed when Run has returned
}

func testConfig(b testbackend.Backend, topic, group string) Config {
	return Config{
		Brokers: b.Brokers, Topic: topic, Group: group, Redis: b.Redis, Prefix: b.RedisPrefix,
		TTL:        2 * time.Hour,
		Membership: kafka.Group{SessionTimeout: 6 * time.Second},
	}
}

func start(t *testing.T, cfg Config, afterWrite func(*running)) *running {
	t.Helper()
	ix, err := NewIndexer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Indexer: ix, cancel: cancel, errc: make(chan error, 1), ran: make(chan struct{})}
	if afterWrite != nil {
		ix.afterWrite = func() { afterWrite(r) }
	}
	go func() {
		defer close(r.ran)
		r.errc <- ix.Run(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop drains the indexer (idempotent).
func (r *running) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	r.cancel()
}

// kill stops the indexer as a crash would: nothing more is committed.
func (r *running) kill() {
	r.cancel()
	<-r.ran
}

// waitRecords waits until the indexer has read n records.
func (r *running) waitRecords(t *testing.T, n int64) Stats {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if s := r.Stats(); s.Records >= n {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("indexer read %d records, want %d", r.Stats().Records, n)
	return Stats{}
}

// disabler records auto-disables.
type disabler struct {
	mu    sync.Mutex
	calls []string // "id|reason"
	fail  int      // calls to fail first
}

func (d *disabler) Disable(_ context.Context, id, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail > 0 {
		d.fail--
		return errors.New("registry unavailable")
	}
	d.calls = append(d.calls, id+"|"+reason)
	return nil
}

func (d *disabler) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// at builds a log entry.
func at(tenant, ep, id string, attempt, status int, outcome string, when time.Time, latency int64) Entry {
	return Entry{DeliveryID: id, EndpointID: ep, TenantID: tenant, Attempt: attempt, Items: 2,
		Status: status, LatencyMS: latency, Outcome: outcome, At: when}
}

func retrying(e Entry, due time.Time, reason string) Entry {
	e.NextDue, e.Error = &due, reason
	return e
}

func ptime(t time.Time) *time.Time { return &t }

func (d *disabler) refusing() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fail
}
