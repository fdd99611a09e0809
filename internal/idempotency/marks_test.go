package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

const keep = time.Hour

func acquire(t *testing.T, m *idempotency.Marks, id string, epoch int64, attempt int, want string) idempotency.Lease {
	t.Helper()
	l, state, err := m.Acquire(context.Background(), id, epoch, attempt, 10*time.Second, keep)
	if err != nil {
		t.Fatal(err)
	}
	if state != want {
		t.Fatalf("acquire %s epoch %d attempt %d: %s, want %s", id, epoch, attempt, state, want)
	}
	return l
}

func value(t *testing.T, rdb redis.UniversalClient, key string) string {
	t.Helper()
	v, err := rdb.Get(context.Background(), key).Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return v
}

func TestHandedMarkStopsOlderCopiesOnly(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		m := idempotency.NewMarks(rdb, prefix)
		l := acquire(t, m, "d1", 0, 1, idempotency.Acquired)
		acquire(t, m, "d1", 0, 1, idempotency.Busy)
		if held, err := m.Handed(ctx, l, 2, keep); err != nil || !held {
			t.Fatalf("handed: %v %v", held, err)
		}
		if v := value(t, rdb, prefix+"delivery:d1"); v != "handed:2" {
			t.Fatalf("value %q", v)
		}
		if ttl := rdb.PTTL(ctx, prefix+"delivery:d1").Val(); ttl <= keep-time.Minute {
			t.Fatalf("handed mark kept for %s, want %s", ttl, keep)
		}
		acquire(t, m, "d1", 0, 1, idempotency.Handed) // the copy re-read after a kill
		l2 := acquire(t, m, "d1", 0, 2, idempotency.Acquired)

		// Giving the lease up keeps the floor: the copy stays refused.
		if err := m.Release(ctx, l2, keep); err != nil {
			t.Fatal(err)
		}
		acquire(t, m, "d1", 0, 1, idempotency.Handed)
		l2 = acquire(t, m, "d1", 0, 2, idempotency.Acquired)
		if held, err := m.Dead(ctx, l2, 3, keep); err != nil || !held {
			t.Fatalf("dead: %v %v", held, err)
		}
		acquire(t, m, "d1", 0, 2, idempotency.Dead)
		acquire(t, m, "d1", 0, 9, idempotency.Dead)

		// A replay (a later epoch) supersedes the dead mark, and its chain
		// then supersedes every record of older epochs.
		r := acquire(t, m, "d1", 5, 3, idempotency.Acquired)
		if held, err := m.Handed(ctx, r, 4, keep); err != nil || !held {
			t.Fatalf("handed after replay: %v %v", held, err)
		}
		if v := value(t, rdb, prefix+"delivery:d1"); v != "handed:4:5" {
			t.Fatalf("value %q", v)
		}
		acquire(t, m, "d1", 0, 9, idempotency.Handed)
		acquire(t, m, "d1", 5, 3, idempotency.Handed)
		r = acquire(t, m, "d1", 5, 4, idempotency.Acquired)
		if err := m.Done(ctx, r, keep); err != nil {
			t.Fatal(err)
		}
		acquire(t, m, "d1", 6, 4, idempotency.Done)
	})
}

func TestLeaseOfADeadHolderKeepsItsFloor(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		m := idempotency.NewMarks(rdb, prefix)
		l := acquire(t, m, "d2", 0, 1, idempotency.Acquired)
		if _, err := m.Handed(ctx, l, 2, keep); err != nil {
			t.Fatal(err)
		}
		// The holder of the newer record dies mid-attempt: its lease runs out.
		if _, _, err := m.Acquire(ctx, "d2", 0, 2, time.Millisecond, keep); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2100 * time.Millisecond)
		acquire(t, m, "d2", 0, 1, idempotency.Handed)
		acquire(t, m, "d2", 0, 2, idempotency.Reclaimed)

		// A holder whose lease was taken over raises marks but never
		// overwrites the other's lease.
		now := acquire(t, m, "d3", 0, 1, idempotency.Acquired)
		if err := rdb.Set(ctx, prefix+"delivery:d3", "lease:00:1:1:0:1", keep).Err(); err != nil {
			t.Fatal(err)
		}
		next := acquire(t, m, "d3", 0, 1, idempotency.Reclaimed)
		if held, err := m.Handed(ctx, now, 2, keep); err != nil || held {
			t.Fatalf("handed on a lost lease: %v %v", held, err)
		}
		if v := value(t, rdb, prefix+"delivery:d3"); v[:6] != "lease:" {
			t.Fatalf("another worker's lease overwritten: %q", v)
		}
		if _, err := m.Handed(ctx, next, 2, keep); err != nil {
			t.Fatal(err)
		}
		if err := m.Release(ctx, now, keep); err != nil {
			t.Fatal(err)
		}
		if v := value(t, rdb, prefix+"delivery:d3"); v != "handed:2" {
			t.Fatalf("a stale release lowered the mark: %q", v)
		}
	})
}
