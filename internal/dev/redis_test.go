package dev

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TestRedisSnapshotKeepsEveryTypeAcrossARestart writes each type dev keeps,
// in two databases and with bytes that are not UTF-8, closes the Redis and
// starts another on the same file: every key and TTL is back.
func TestRedisSnapshotKeepsEveryTypeAcrossARestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "redis.json")
	ctx := context.Background()
	binary := "\xff\x00\xfe"
	with := func(db int, fn func(rdb *redis.Client)) int {
		r, err := StartRedis(file, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: db, Protocol: 2})
		fn(rdb)
		_ = rdb.Close()
		r.Close()
		return r.Restored()
	}
	if n := with(0, func(rdb *redis.Client) {
		must(t, rdb.Set(ctx, "s", binary, time.Hour).Err())
		must(t, rdb.HSet(ctx, "h", "f", "v", binary, binary).Err())
		must(t, rdb.SAdd(ctx, "set", "a", "b").Err())
		must(t, rdb.RPush(ctx, "l", "1", "2", "3").Err())
		must(t, rdb.ZAdd(ctx, "z", redis.Z{Score: 2.5, Member: "m"}).Err())
	}); n != 0 {
		t.Fatalf("%d keys restored from no file", n)
	}
	with(3, func(rdb *redis.Client) { must(t, rdb.Set(ctx, "in3", "x", 0).Err()) })

	if n := with(0, func(rdb *redis.Client) {
		if v := rdb.Get(ctx, "s").Val(); v != binary {
			t.Errorf("string: %q", v)
		}
		if ttl := rdb.TTL(ctx, "s").Val(); ttl <= 50*time.Minute || ttl > time.Hour {
			t.Errorf("string's TTL: %s, want just under 1h", ttl)
		}
		if h := rdb.HGetAll(ctx, "h").Val(); len(h) != 2 || h["f"] != "v" || h[binary] != binary {
			t.Errorf("hash: %q", h)
		}
		if m := rdb.SMembers(ctx, "set").Val(); len(m) != 2 {
			t.Errorf("set: %q", m)
		}
		if l := rdb.LRange(ctx, "l", 0, -1).Val(); strings.Join(l, ",") != "1,2,3" {
			t.Errorf("list: %q", l)
		}
		if s := rdb.ZScore(ctx, "z", "m").Val(); s != 2.5 {
			t.Errorf("sorted set: %v", s)
		}
	}); n != 6 {
		t.Errorf("%d keys restored, want 6", n)
	}
	with(3, func(rdb *redis.Client) {
		if v := rdb.Get(ctx, "in3").Val(); v != "x" {
			t.Errorf("db 3: %q", v)
		}
	})
}

// TestRedisRefusesAnUnreadableSnapshot: a snapshot that cannot be read
// stops the start instead of an empty Redis forgetting what was done.
func TestRedisRefusesAnUnreadableSnapshot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "redis.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := StartRedis(file, zap.NewNop())
	if err == nil {
		r.Close()
		t.Fatal("started on an unreadable snapshot")
	}
	if !strings.Contains(err.Error(), "move it away") {
		t.Errorf("error does not say what to do: %v", err)
	}
}

// TestKafkaNamesTheFlagOfATakenPort: a taken port is reported with the
// flag that picks another.
func TestKafkaNamesTheFlagOfATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	k, err := StartKafka(t.TempDir(), l.Addr().(*net.TCPAddr).Port, 1)
	if err == nil {
		k.Close()
		t.Fatal("started on a taken port")
	}
	if !strings.Contains(err.Error(), "--kafka-port") {
		t.Errorf("error does not name --kafka-port: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
