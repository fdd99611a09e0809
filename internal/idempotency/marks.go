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

var acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 'done' end
if v then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ok'`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

// Acquire takes the in-flight lease of delivery id for d.
func (m *Marks) Acquire(ctx context.Context, id string, d time.Duration) (Lease, string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := Lease{id: id, token: "lease:" + hex.EncodeToString(b[:])}
	st, err := acquireScript.Run(ctx, m.rdb, []string{m.prefix + id}, l.token, d.Milliseconds()).Text()
	if err != nil {
		return Lease{}, "", fmt.Errorf("acquire lease of delivery %s: %w", id, err)
	}
	return l, st, nil
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
