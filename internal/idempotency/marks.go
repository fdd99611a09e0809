package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Marks hold per-delivery state for the retry tiers: an in-flight lease
// while an attempt runs (longer than the endpoint timeout, so two workers
// never send the same delivery at once), then a done mark after a 2xx, kept
// for the retry horizon plus the replay window so that no replay or
// re-read record sends it again.
type Marks struct {
	rdb    redis.Cmdable
	prefix string
}

// NewMarks stores under prefix (default "hookline:") + "delivery:".
func NewMarks(rdb redis.Cmdable, prefix string) *Marks {
	if prefix == "" {
		prefix = "hookline:"
	}
	return &Marks{rdb: rdb, prefix: prefix + "delivery:"}
}

// Lease is a held in-flight lease.
type Lease struct {
	id, token string
}

// Acquire outcomes.
const (
	Acquired = "ok"
	Done     = "done" // a 2xx was recorded: never send again
	Busy     = "busy" // another worker holds the lease
)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

// Acquire takes the in-flight lease of delivery id for d.
func (m *Marks) Acquire(ctx context.Context, id string, d time.Duration) (Lease, string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := Lease{id: id, token: "lease:" + hex.EncodeToString(b[:])}
	// SET NX is the common case in one round trip (no script: cheap on
	// every Redis); only a refused lease needs a second look.
	ok, err := m.rdb.SetNX(ctx, m.prefix+id, l.token, d).Result()
	if err != nil {
		return Lease{}, "", fmt.Errorf("acquire lease of delivery %s: %w", id, err)
	}
	if ok {
		return l, Acquired, nil
	}
	v, err := m.rdb.Get(ctx, m.prefix+id).Result()
	switch {
	case err == redis.Nil:
		return Lease{}, Busy, nil // the other lease just ended: try again
	case err != nil:
		return Lease{}, "", fmt.Errorf("read delivery %s: %w", id, err)
	case v == "done":
		return Lease{}, Done, nil
	}
	return Lease{}, Busy, nil
}

// Done replaces the lease with the done mark, kept for ttl.
func (m *Marks) Done(ctx context.Context, l Lease, ttl time.Duration) error {
	if err := m.rdb.Set(ctx, m.prefix+l.id, "done", ttl).Err(); err != nil {
		return fmt.Errorf("mark delivery %s done: %w", l.id, err)
	}
	return nil
}

// Release drops the lease if this holder still has it.
func (m *Marks) Release(ctx context.Context, l Lease) error {
	if err := releaseScript.Run(ctx, m.rdb, []string{m.prefix + l.id}, l.token).Err(); err != nil {
		return fmt.Errorf("release lease of delivery %s: %w", l.id, err)
	}
	return nil
}

// IsDone reports whether delivery id got a 2xx.
func (m *Marks) IsDone(ctx context.Context, id string) (bool, error) {
	v, err := m.rdb.Get(ctx, m.prefix+id).Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read delivery %s: %w", id, err)
	}
	return v == "done", nil
}
