package deliverylog

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
)

func TestBoundsPerEndpointAndDelivery(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		topic := b.Topic(t, 1)
		base := time.Now().UTC().Truncate(time.Minute)
		m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
		// An id with the characters that structure keys stays one key.
		odd := "d:{x}%"
		produce(t, b.Kafka, topic,
			at(tenantA, epA, "d1", 1, 500, "retry", m(-50), 10),
			at(tenantA, epA, "d2", 1, 200, "delivered", m(-40), 10),
			at(tenantA, epA, "d3", 1, 200, "delivered", m(-30), 10),
			at(tenantA, epA, "d4", 1, 200, "delivered", m(-20), 10),
			at(tenantA, epA, odd, 1, 500, "retry", m(-12), 10),
			at(tenantA, epA, odd, 2, 502, "retry", m(-11), 10),
			at(tenantA, epA, odd, 3, 200, "delivered", m(-10), 10),
			at(tenantA, epA, "d1", 2, 200, "delivered", m(-5), 10),
		)
		cfg := testConfig(b, topic, testbackend.UniqueName(t))
		cfg.Keep, cfg.KeepAttempts = 3, 2
		ix := start(t, cfg, nil)
		ix.waitRecords(t, 8)
		ix.stop(t)

		r := NewReader(b.Redis, b.RedisPrefix)
		ctx := context.Background()
		page, next, err := r.Deliveries(ctx, tenantA, epA, "", 10)
		if err != nil || next != "" || !reflect.DeepEqual(ids(page), []string{"d1", odd, "d4"}) {
			t.Fatalf("kept %v (next %q, %v), want the 3 most recently active", ids(page), next, err)
		}
		for _, id := range []string{"d2", "d3"} {
			if _, err := r.Delivery(ctx, tenantA, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("trimmed delivery %s: %v, want ErrNotFound", id, err)
			}
		}
		// d1 was trimmed when d4 arrived; its 2xx started it afresh.
		d1, err := r.Delivery(ctx, tenantA, "d1")
		if err != nil || d1.Attempts != 2 || len(d1.History) != 1 || !d1.FirstAt.Equal(m(-5)) {
			t.Errorf("d1: %+v, %v", d1, err)
		}
		x, err := r.Delivery(ctx, tenantA, odd)
		var codes []int
		for _, e := range x.History {
			codes = append(codes, e.Status)
		}
		if err != nil || x.Attempts != 3 || !reflect.DeepEqual(codes, []int{502, 200}) || x.ID != odd {
			t.Errorf("%s: %+v, codes %v, %v; want 3 attempts, the newest 2 kept", odd, x, codes, err)
		}
		keys, err := b.Redis.Keys(ctx, b.RedisPrefix+"*").Result()
		if err != nil || len(keys) == 0 {
			t.Fatalf("keys: %v, %v", keys, err)
		}
		for _, k := range keys {
			if ttl := b.Redis.TTL(ctx, k).Val(); ttl <= 0 || ttl > bucketHorizon+time.Hour {
				t.Errorf("key %s has TTL %s", k, ttl)
			}
		}
	})
}

func TestEscapeKeepsKeysApart(t *testing.T) {
	ids := []string{"a", "a}:d:x", "a:d", "a%3ad", "{a}", "%", "%%", "", "t-acme"}
	seen := map[string]string{}
	for _, id := range ids {
		e := escape(id)
		if prev, ok := seen[e]; ok {
			t.Errorf("%q and %q both escape to %q", prev, id, e)
		}
		seen[e] = id
		if got := unescape(e); got != id {
			t.Errorf("unescape(escape(%q)) = %q", id, got)
		}
	}
	if a, b := tenantKeys("p:", "a").delivery("x}:d:y"), tenantKeys("p:", "a}:d:x").delivery("y"); a == b {
		t.Errorf("keys of two tenants collide: %s", a)
	}
}
