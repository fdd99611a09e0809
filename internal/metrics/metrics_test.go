package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var policy = retry.Policy{Prefix: "hl.retry.", Delays: []time.Duration{time.Minute, 5 * time.Minute}}

// value is the value of the series of family name whose labels include
// want (a histogram's sample count), and whether there is one.
func value(t *testing.T, m *metrics.Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			return sampleValue(f.GetType(), s), true
		}
	}
	return 0, false
}

func sampleValue(typ dto.MetricType, s *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return s.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return s.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(s.GetHistogram().GetSampleCount())
	}
	return s.GetUntyped().GetValue()
}

func expect(t *testing.T, m *metrics.Metrics, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(t, m, name, labels)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func TestDispatcherAndRetrierFigures(t *testing.T) {
	m := metrics.New()
	d := m.Dispatcher("disp")
	d.Consumed(7, 9, 1)
	d.Consumed(3, 2, 0)
	d.Attempted(200, 20*time.Millisecond)
	d.Attempted(503, time.Second)
	d.Attempted(0, 10*time.Second)
	d.Settled("delivered", "", 4, 1200)
	d.Settled("retrying", "", 1, 300)
	d.Settled("dead", "gone", 2, 600)
	d.Buffered(4096)
	d.KafkaError("produce")
	d.Marked(300 * time.Microsecond)
	d.Marked(time.Millisecond)
	d.Marked(2 * time.Millisecond)
	d.MarkRound(2, 200*time.Microsecond)
	d.MarkRound(1, 250*time.Microsecond)

	r := m.Retrier("ret", policy)
	r.Attempted(0, 500, 30*time.Millisecond)
	r.Attempted(1, 500, 30*time.Millisecond)
	r.Settled(0, "retrying", "", 2*time.Second)
	r.Settled(1, "dead", "exhausted", 0)
	r.Settled(7, "delivered", "", 0) // a position past the schedule counts in its last tier
	r.Held(2, 11)
	r.KafkaError("commit")

	g := map[string]string{"group": "disp"}
	expect(t, m, "hookline_events_consumed_total", g, 10)
	expect(t, m, "hookline_events_matched_total", g, 11)
	expect(t, m, "hookline_events_invalid_total", g, 1)
	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "dispatch", "code": "2xx"}, 1)
	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "dispatch", "code": "5xx"}, 1)
	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "dispatch", "code": "error"}, 1)
	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "dispatch", "code": "4xx"}, 0)
	expect(t, m, "hookline_attempt_duration_seconds", map[string]string{"tier": "dispatch"}, 3)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "dispatch", "outcome": "delivered"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "dispatch", "outcome": "retrying"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "dispatch", "outcome": "dead"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "dispatch", "outcome": "deferred"}, 0)
	expect(t, m, "hookline_dead_letters_total", map[string]string{"tier": "dispatch", "cause": "gone"}, 1)
	expect(t, m, "hookline_batch_events", nil, 3)
	expect(t, m, "hookline_batch_bytes", nil, 3)
	expect(t, m, "hookline_buffered_bytes", g, 4096)
	expect(t, m, "hookline_kafka_errors_total", map[string]string{"client": "disp", "op": "produce"}, 1)
	expect(t, m, "hookline_mark_wait_seconds", nil, 3)
	expect(t, m, "hookline_mark_round_trip_seconds", nil, 2)
	expect(t, m, "hookline_marks_total", nil, 3)

	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "1m0s", "code": "5xx"}, 1)
	expect(t, m, "hookline_attempts_total", map[string]string{"tier": "5m0s", "code": "5xx"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "1m0s", "outcome": "retrying"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "5m0s", "outcome": "dead"}, 1)
	expect(t, m, "hookline_deliveries_total", map[string]string{"tier": "5m0s", "outcome": "delivered"}, 1)
	expect(t, m, "hookline_dead_letters_total", map[string]string{"tier": "5m0s", "cause": "exhausted"}, 1)
	expect(t, m, "hookline_retry_due_lateness_seconds", map[string]string{"tier": "1m0s"}, 1)
	expect(t, m, "hookline_retry_due_lateness_seconds", map[string]string{"tier": "5m0s"}, 2)
	expect(t, m, "hookline_paused_partitions", map[string]string{"group": "ret"}, 2)
	expect(t, m, "hookline_retry_held_records", map[string]string{"group": "ret"}, 11)
	expect(t, m, "hookline_kafka_errors_total", map[string]string{"client": "ret", "op": "commit"}, 1)

	// Batch sizes: the sum of the histogram is the events settled.
	fams, _ := m.Registry().Gather()
	for _, f := range fams {
		if f.GetName() == "hookline_batch_events" {
			if got := f.GetMetric()[0].GetHistogram().GetSampleSum(); got != 7 {
				t.Errorf("hookline_batch_events sum = %v, want 7", got)
			}
		}
	}
}

func TestRedisHookCountsFailuresOnly(t *testing.T) {
	m := metrics.New()
	rdb := testbackend.NewMiniredis(t)
	rdb.AddHook(m.RedisHook())
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get missing: %v", err)
	}
	expect(t, m, "hookline_redis_errors_total", nil, 0)
	// A wrong-type reply is an error Redis gave.
	if err := rdb.LPush(ctx, "k", "x").Err(); err == nil {
		t.Fatal("LPUSH on a string key succeeded")
	}
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, "k", "y")
		return nil
	})
	expect(t, m, "hookline_redis_errors_total", nil, 2)

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer dead.Close()
	dead.AddHook(m.RedisHook())
	if err := dead.Ping(ctx).Err(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	expect(t, m, "hookline_redis_errors_total", nil, 3)
}

// TestConsumerLag commits offsets for two groups and reads their lag and
// the retriers' tier depth back, exactly, on every Kafka backend.
func TestConsumerLag(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		name := testbackend.UniqueName(t)
		events, tier := k.Topic(t, 2), name+".retry.1m0s"
		cl := k.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		adm := kadm.NewClient(cl)
		if resp, err := adm.CreateTopic(ctx, 1, -1, nil, tier); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", tier, err, resp.Err)
		}
		produce := func(topic string, part int32, n int) {
			for i := 0; i < n; i++ {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: part, Value: []byte("x")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
		produce(events, 0, 7)
		produce(events, 1, 5)
		produce(tier, 0, 4)
		disp, ret := name+".disp", name+".ret"
		commit := func(group string, topic string, offs map[int32]int64) {
			var o kadm.Offsets
			for p, at := range offs {
				o.AddOffset(topic, p, at, -1)
			}
			resp, err := adm.CommitOffsets(ctx, group, o)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("commit %s: %v", group, err)
			}
		}
		commit(disp, events, map[int32]int64{0: 3, 1: 5})
		commit(ret, tier, map[int32]int64{0: 1})

		m := metrics.New()
		m.Dispatcher(disp)
		m.Retrier(ret, retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{time.Minute}})
		if _, ok := value(t, m, "hookline_consumer_lag", nil); ok {
			t.Error("lag reported before WatchLag")
		}
		m.WatchLag(adm, time.Hour)
		expect(t, m, "hookline_consumer_lag", map[string]string{"group": disp, "topic": events}, 4)
		expect(t, m, "hookline_consumer_lag", map[string]string{"group": ret, "topic": tier}, 3)
		expect(t, m, "hookline_retry_tier_depth", map[string]string{"tier": "1m0s"}, 3)

		// Within the interval the figures are not asked again.
		commit(disp, events, map[int32]int64{0: 7})
		expect(t, m, "hookline_consumer_lag", map[string]string{"group": disp, "topic": events}, 4)
		m.WatchLag(adm, time.Hour) // a new watch asks afresh
		expect(t, m, "hookline_consumer_lag", map[string]string{"group": disp, "topic": events}, 0)
		expect(t, m, "hookline_kafka_errors_total", map[string]string{"client": disp, "op": "lag"}, 0)
	})
}

// TestConsumerLagKafkaAway leaves the figures out rather than report
// stale ones, and counts the failure.
func TestConsumerLagKafkaAway(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := metrics.New()
	m.Dispatcher("g")
	m.WatchLag(kadm.NewClient(cl), time.Hour)
	if _, ok := value(t, m, "hookline_consumer_lag", nil); ok {
		t.Error("lag reported while Kafka is away")
	}
	expect(t, m, "hookline_kafka_errors_total", map[string]string{"client": "g", "op": "lag"}, 1)
}

func TestHandlerServesTheRegistry(t *testing.T) {
	m := metrics.New()
	m.Dispatcher("g").Consumed(3, 3, 0)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{`hookline_events_consumed_total{group="g"} 3`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
