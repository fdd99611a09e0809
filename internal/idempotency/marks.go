package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Marks hold per-delivery state for the retry tiers, one key per delivery:
//
//	lease:<token>:<start s>:<length s>:<epoch>:<attempt>  an attempt runs
//	handed:<k>[:<epoch>]  a record with attempt count k exists in a tier
//	dead:<k>[:<epoch>]    the delivery was dead-lettered after k attempts
//	done                  a 2xx was recorded: never send again
//
// The attempt count orders the records of one delivery: each hand-off
// writes a record one attempt newer, so once handed:k is set, any record
// with fewer attempts is a copy already handed off and must not be sent
// again. The epoch is the replay that started the chain (0: none); a
// replay supersedes every record, mark and dead letter of lower epochs.
//
// A lease's expiry is in its value, on Redis's clock, rather than in the
// key's TTL: when its holder dies, the attempt count it held stays as the
// floor, so a stale record re-read meanwhile still cannot take the
// delivery. Every state is kept for the done marks' TTL (the retry horizon
// plus the replay window).
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

// Lease is a held in-flight lease for a record with Attempt attempts made,
// of replay Epoch.
type Lease struct {
	id, token string
	Epoch     int64
	Attempt   int
}

// Acquire outcomes.
const (
	Acquired = "ok"
	// Reclaimed is Acquired after a holder's lease ran out without an
	// outcome: the holder died or froze, and may have sent or handed off.
	Reclaimed = "reclaimed"
	Done      = "done"   // a 2xx was recorded: never send again
	Busy      = "busy"   // another worker holds the lease
	Handed    = "handed" // a newer record of the delivery exists: skip this one
	Dead      = "dead"   // dead-lettered in this or a later epoch: skip
)

// One round trip for every case, the common first attempt included. TIME
// is read before writing; older Redis needs effect replication for that.
var acquireScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local v = redis.call('GET', KEYS[1])
local e, k = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = redis.call('TIME')[1]
local function take(state)
  redis.call('SET', KEYS[1], 'lease:' .. ARGV[1] .. ':' .. now .. ':' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4], 'PX', ARGV[5])
  return {state, ''}
end
if not v then return take('ok') end
if v == 'done' then return {'done', v} end
local kind, mk, me = string.match(v, '^(%a+):(%d+):?(%d*)$')
me = tonumber(me) or 0
if kind == 'handed' then
  if e > me or (e == me and k >= tonumber(mk)) then return take('ok') end
  return {'handed', v}
elseif kind == 'dead' then
  if e > me then return take('ok') end
  return {'dead', v}
end
local start, len, le, lk = string.match(v, '^lease:%x+:(%d+):(%d+):(%d+):(%d+)$')
if start and tonumber(start) + tonumber(len) <= tonumber(now) then
  le, lk = tonumber(le), tonumber(lk)
  if e > le or (e == le and k >= lk) then return take('reclaimed') end
  return {'handed', v}
end
return {'busy', v}`)

// markScript replaces the caller's lease with ARGV[2] and returns 1. A
// caller that lost its lease (it ran out and another worker took it) gets
// 0, and its mark is only written where it raises a handed or dead mark:
// never over done or another worker's lease.
var markScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.find(v, 'lease:' .. ARGV[1] .. ':', 1, true) == 1 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if v then
  local kind, mk, me = string.match(v, '^(%a+):(%d+):?(%d*)$')
  if kind ~= 'handed' and kind ~= 'dead' then return 0 end
  me = tonumber(me) or 0
  local e = tonumber(ARGV[4])
  if e < me then return 0 end
  if e == me and (kind == 'dead' or (ARGV[5] ~= '' and tonumber(ARGV[5]) <= tonumber(mk))) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 0`)

// Acquire takes the in-flight lease of delivery id for a record of replay
// epoch with attempt attempts made, for d; the key is kept for keep.
func (m *Marks) Acquire(ctx context.Context, id string, epoch int64, attempt int, d, keep time.Duration) (Lease, string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := Lease{id: id, token: hex.EncodeToString(b[:]), Epoch: epoch, Attempt: attempt}
	// Whole seconds on Redis's clock, rounded up, plus one for the start
	// being truncated to its second.
	secs := int64((d+time.Second-1)/time.Second) + 1
	res, err := acquireScript.Run(ctx, m.rdb, []string{m.prefix + id}, l.token, secs, epoch, attempt, keep.Milliseconds()).StringSlice()
	if err != nil {
		return Lease{}, "", fmt.Errorf("acquire lease of delivery %s: %w", id, err)
	}
	if len(res) == 0 {
		return Lease{}, "", fmt.Errorf("acquire lease of delivery %s: empty reply", id)
	}
	switch res[0] {
	case Acquired, Reclaimed:
		return l, res[0], nil
	case Done, Busy, Handed, Dead:
		return Lease{}, res[0], nil
	}
	return Lease{}, "", fmt.Errorf("acquire lease of delivery %s: unexpected reply %q", id, res)
}

// Done replaces the lease with the done mark, kept for ttl.
func (m *Marks) Done(ctx context.Context, l Lease, ttl time.Duration) error {
	if err := m.rdb.Set(ctx, m.prefix+l.id, "done", ttl).Err(); err != nil {
		return fmt.Errorf("mark delivery %s done: %w", l.id, err)
	}
	return nil
}

// Handed replaces the lease with handed:next, kept for ttl, once the record
// with next attempts is durably in a tier. It reports whether the lease
// was still held.
func (m *Marks) Handed(ctx context.Context, l Lease, next int, ttl time.Duration) (bool, error) {
	return m.mark(ctx, l, "handed", next, true, ttl)
}

// Dead replaces the lease with the dead mark, kept for ttl, once the dead
// letter (of a delivery with attempts made) is durably written. It blocks
// every record of l's epoch or older.
func (m *Marks) Dead(ctx context.Context, l Lease, attempts int, ttl time.Duration) (bool, error) {
	return m.mark(ctx, l, "dead", attempts, false, ttl)
}

// Release gives up the lease without an outcome: the record held stays
// due, and its attempt count stays the floor for the older copies.
func (m *Marks) Release(ctx context.Context, l Lease, ttl time.Duration) error {
	_, err := m.mark(ctx, l, "handed", l.Attempt, true, ttl)
	return err
}

// mark writes kind:<k>[:<epoch>]. An unranked mark (dead) ranks above
// every attempt count of its epoch.
func (m *Marks) mark(ctx context.Context, l Lease, kind string, k int, ranked bool, ttl time.Duration) (bool, error) {
	rank := ""
	if ranked {
		rank = strconv.Itoa(k)
	}
	v := kind + ":" + strconv.Itoa(k)
	if l.Epoch != 0 {
		v += ":" + strconv.FormatInt(l.Epoch, 10)
	}
	held, err := markScript.Run(ctx, m.rdb, []string{m.prefix + l.id}, l.token, v, ttl.Milliseconds(), l.Epoch, rank).Int()
	if err != nil {
		return false, fmt.Errorf("mark delivery %s %s: %w", l.id, kind, err)
	}
	return held == 1, nil
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
