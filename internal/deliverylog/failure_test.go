package deliverylog

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap/zaptest"
)

func TestAutoDisable(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		topic := b.Topic(t, 1)
		base := time.Now().UTC().Truncate(time.Minute)
		day := 24 * time.Hour
		fail := func(id string, when time.Time) Entry {
			return retrying(at(tenantA, epA, id, 1, 500, "retry", when, 30), when.Add(time.Minute), "HTTP 500")
		}
		// The registry refuses the first call; the next failing record
		// tries again.
		dis := &disabler{fail: 1}
		cfg := testConfig(b, topic, testbackend.UniqueName(t))
		cfg.Disabler = dis
		cfg.Logger = zaptest.NewLogger(t)
		ix := start(t, cfg, nil)
		r := NewReader(b.Redis, b.RedisPrefix)
		ctx := context.Background()

		produce(t, b.Kafka, topic, fail("f1", base.Add(-6*day)), fail("f2", base.Add(-3*day)))
		ix.waitRecords(t, 2)
		if c := dis.Calls(); len(c) != 0 {
			t.Fatalf("disabled after 3 days of failures: %v", c)
		}
		produce(t, b.Kafka, topic, fail("f3", base.Add(-time.Hour)))
		ix.waitRecords(t, 3)
		if c, left := dis.Calls(), dis.refusing(); len(c) != 0 || left != 0 {
			t.Fatalf("calls %v, refusals left %d: want the one refused call", c, left)
		}
		produce(t, b.Kafka, topic, fail("f4", base.Add(-50*time.Minute)), fail("f5", base.Add(-40*time.Minute)))
		ix.waitRecords(t, 5)
		first := epA + "|auto-disabled: failing since " + base.Add(-6*day).Format(time.RFC3339)
		if c := dis.Calls(); !reflect.DeepEqual(c, []string{first}) {
			t.Fatalf("calls %v, want [%s]", c, first)
		}
		h, err := r.Health(ctx, tenantA, epA, base)
		if err != nil || h.ConsecutiveFailures != 5 || !h.FailingSince.Equal(base.Add(-6*day)) || h.State != StateFailing {
			t.Fatalf("health while failing: %+v, %v", h, err)
		}

		// Re-enabled by the user, the endpoint answers 2xx: the stretch
		// ends, and a new one is judged from its own first failure.
		produce(t, b.Kafka, topic, at(tenantA, epA, "ok1", 1, 200, "delivered", base.Add(-30*time.Minute), 20))
		ix.waitRecords(t, 6)
		h, err = r.Health(ctx, tenantA, epA, base)
		if err != nil || h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.State != StateHealthy {
			t.Fatalf("health after the 2xx: %+v, %v", h, err)
		}
		produce(t, b.Kafka, topic, fail("g1", base.Add(-20*time.Minute)), fail("g2", base.Add(5*day)),
			fail("g3", base.Add(5*day+time.Minute)))
		ix.waitRecords(t, 9)
		second := epA + "|auto-disabled: failing since " + base.Add(-20*time.Minute).Format(time.RFC3339)
		if c := dis.Calls(); !reflect.DeepEqual(c, []string{first, second}) {
			t.Fatalf("calls %v, want [%s %s]", c, first, second)
		}
		ix.stop(t)

		// Everything read again: no further call.
		cfg = testConfig(b, topic, testbackend.UniqueName(t))
		cfg.Disabler = dis
		again := start(t, cfg, nil)
		again.waitRecords(t, 9)
		again.stop(t)
		if c := dis.Calls(); len(c) != 2 {
			t.Fatalf("re-reading made calls: %v", c)
		}
	})
}

func TestRedisOutageHoldsCommits(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		opt, err := redis.ParseURL(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testbackend.NewProxy(t, opt.Addr)
		opt.Addr = proxy.Addr()
		opt.MaxRetries = -1
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		proxy.Cut()

		topic := b.Topic(t, 3)
		base := time.Now().UTC().Truncate(time.Minute)
		entries := scenario(base)
		produce(t, b.Kafka, topic, entries...)
		group := testbackend.UniqueName(t)
		cfg := testConfig(b, topic, group)
		cfg.Redis = rdb
		cfg.Logger = zaptest.NewLogger(t)
		ix := start(t, cfg, nil)
		time.Sleep(2 * time.Second)
		if s := ix.Stats(); s.Records != 0 {
			t.Fatalf("indexed %d records while Redis was away", s.Records)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		committed, err := b.Admin(t).FetchOffsets(ctx, group)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("fetch offsets: %v", err)
		}
		committed.Each(func(o kadm.OffsetResponse) {
			if o.At > 0 {
				t.Errorf("committed %s/%d at %d while Redis was away", o.Topic, o.Partition, o.At)
			}
		})
		proxy.Restore()
		ix.waitRecords(t, int64(len(entries)))
		ix.stop(t)
		checkScenario(t, takeSnapshot(t, NewReader(b.Redis, b.RedisPrefix), base), base)
	})
}
