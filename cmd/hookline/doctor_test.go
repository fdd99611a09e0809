package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// doctorSetup is a pipeline's topics under a test-unique prefix, with
// doctor's flags pointing at them.
type doctorSetup struct {
	f                 doctorFlags
	events, tier, att string
	b                 testbackend.Backend
}

func newDoctorSetup(t *testing.T, b testbackend.Backend) *doctorSetup {
	t.Helper()
	prefix := testbackend.UniqueName(t) + "."
	var f doctorFlags
	fs := quietFlagSet("doctor")
	f.register(fs)
	args := []string{"--brokers", strings.Join(b.Brokers, ","), "--redis-url", b.RedisURL, "--topic-prefix", prefix,
		"--events-topic", prefix + "events", "--retry-schedule", "1s,1m", "--partitions", "2", "--retry-partitions", "1",
		"--attempts-partitions", "1", "--group", prefix + "dispatcher", "--retrier-group", prefix + "retrier",
		"--indexer-group", prefix + "indexer", "--timeout", "15s"}
	if err := fs.parse(args); err != nil {
		t.Fatal(err)
	}
	specs, err := f.layout.layout(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := createTopics(ctx, &out, b.Admin(t), specs); err != nil {
		t.Fatalf("create topics: %v\n%s", err, out.String())
	}
	return &doctorSetup{f: f, events: prefix + "events", tier: prefix + "retry.1s", att: prefix + "attempts", b: b}
}

func (s *doctorSetup) produce(t *testing.T, rs ...*kgo.Record) {
	t.Helper()
	cl := s.b.Client(t)
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// overdue is a delivery record due the given time ago.
func overdue(topic string, ago time.Duration) *kgo.Record {
	d := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep1", TenantID: "t-1", EventType: "task.created", Items: 1,
		Body: []byte(`{"type":"task.created"}`), Attempt: 1, FirstAttempt: time.Now().Add(-ago - time.Second), Due: time.Now().Add(-ago)}
	return d.Record(topic)
}

// member joins group on topics, reads n records, commits them when
// commit is set, and stays in the group until the test ends: a consumer
// that is up, and either keeping up or stuck.
func (s *doctorSetup) member(t *testing.T, group string, n int, commit bool, topics ...string) {
	t.Helper()
	cl := s.b.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("member of %s read %d of %d records", group, len(got), n)
		}
		got = append(got, fs.Records()...)
	}
	if commit {
		if err := cl.CommitRecords(ctx, got...); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *doctorSetup) run(t *testing.T) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := doctor(context.Background(), &out, &s.f)
	return out.String(), err
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !regexp.MustCompile(l).MatchString(out) {
			t.Errorf("doctor output lacks /%s/:\n%s", l, out)
		}
	}
}

func TestDoctorHealthyPipeline(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newDoctorSetup(t, b)
		for i := range 5 {
			s.produce(t, &kgo.Record{Topic: s.events, Partition: int32(i % 2), Value: []byte(`{}`)})
		}
		s.produce(t, &kgo.Record{Topic: s.att, Value: []byte(`{}`)})
		// Due in ten minutes: the retrier waits on it, which is no lag to fix.
		s.produce(t, overdue(s.tier, -10*time.Minute))
		s.member(t, s.f.dispatcherGroup, 5, true, s.events)
		s.member(t, s.f.indexGroup, 1, true, s.att)
		s.member(t, s.f.retrierGroup, 1, false, s.tier, s.f.layout.topicPrefix+"retry.1m0s")

		out, err := s.run(t)
		if err != nil {
			t.Fatalf("doctor: %v\n%s", err, out)
		}
		q := regexp.QuoteMeta
		wantLines(t, out,
			`(?m)^ok    kafka: 1 broker \(Kafka [^)]+\), controller \d+$`,
			`(?m)^ok    topic `+q(s.events)+`: events, 2 partitions, replication 1, retention 7d$`,
			`(?m)^ok    topic `+q(s.f.layout.topicPrefix)+`registry: registry, 1 partition, replication 1, retention compacted$`,
			`(?m)^ok    group `+q(s.f.dispatcherGroup)+`: Stable, 1 dispatcher on 2 partitions, lag 0 records$`,
			`(?m)^ok    group `+q(s.f.indexGroup)+`: Stable, 1 indexer on 1 partition, lag 0 records$`,
			`(?m)^ok    group `+q(s.f.retrierGroup)+`: Stable, 1 retrier on 3 partitions, lag 1 record$`,
			`(?m)^ok    registry `+q(s.f.layout.topicPrefix)+`registry: 0 records in the log`,
			`(?m)^0 problems, \d+ warnings?$`,
		)
		if os.Getenv(testbackend.EnvRedis) != "" && b.Name == "kafka" {
			wantLines(t, out, `(?m)^ok    redis \S+ db \d+: Redis \d+\.\d+\.\d+, PING `)
		} else {
			wantLines(t, out, `(?m)^WARN  redis \S+ db 0: answers PING in \S+ but not INFO server`)
		}
	})
}

func TestDoctorStuckConsumers(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newDoctorSetup(t, b)
		old := time.Now().Add(-10 * time.Minute)
		for i := range 3 {
			s.produce(t, &kgo.Record{Topic: s.events, Partition: int32(i % 2), Value: []byte(`{}`), Timestamp: old})
		}
		s.produce(t, overdue(s.tier, 20*time.Minute))
		s.produce(t, &kgo.Record{Topic: s.att, Value: []byte(`{}`)}, &kgo.Record{Topic: s.att, Value: []byte(`{}`)})
		// Up, but committing nothing: what a paused or wedged member looks
		// like from the broker. No indexer runs at all.
		s.member(t, s.f.dispatcherGroup, 3, false, s.events)
		s.member(t, s.f.retrierGroup, 1, false, s.tier, s.f.layout.topicPrefix+"retry.1m0s")

		out, err := s.run(t)
		if !errors.Is(err, errProblems) || err.Error() != "2 problems: problems found" {
			t.Fatalf("doctor: %v, want 2 problems\n%s", err, out)
		}
		q := regexp.QuoteMeta
		wantLines(t, out,
			`(?m)^ok    group `+q(s.f.dispatcherGroup)+`: Stable, 1 dispatcher on 2 partitions, lag 3 records$`,
			`(?m)^FAIL  group `+q(s.f.dispatcherGroup)+`: the oldest waiting record on `+q(s.events)+`/[01] is 10m[0-9]s old$`,
			`(?m)^      fix: the dispatchers are behind or stuck: check they run and are ready \(/readyz\)`,
			`(?m)^FAIL  group `+q(s.f.retrierGroup)+`: a delivery on `+q(s.tier)+`/0 has waited 20m[0-9]s past its due time$`,
			`(?m)^WARN  group `+q(s.f.indexGroup)+`: no such group, 0 indexers on 1 partition, lag 2 records: the delivery log and endpoint health fall behind$`,
			`(?m)^      fix: run .hookline api \(--index\). \(group `+q(s.f.indexGroup)+`\)$`,
		)
	})
}

func TestDoctorNothingConsuming(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newDoctorSetup(t, b)
		s.produce(t, &kgo.Record{Topic: s.events, Value: []byte(`{}`)}, &kgo.Record{Topic: s.events, Value: []byte(`{}`)})
		out, err := s.run(t)
		if !errors.Is(err, errProblems) {
			t.Fatalf("doctor: %v\n%s", err, out)
		}
		q := regexp.QuoteMeta
		wantLines(t, out,
			`(?m)^FAIL  group `+q(s.f.dispatcherGroup)+`: no such group, 0 dispatchers on 2 partitions, lag 2 records: nothing is consuming$`,
			`(?m)^      fix: start .hookline dispatcher. with --group `+q(s.f.dispatcherGroup)+` \(and the same --topic-prefix\)$`,
			`(?m)^WARN  group `+q(s.f.retrierGroup)+`: no such group, 0 retriers on 3 partitions, lag 0 records: no member running$`,
		)
	})
}

func TestDoctorStoppedServices(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	var f doctorFlags
	fs := quietFlagSet("doctor")
	f.register(fs)
	if err := fs.parse([]string{"--brokers", closed, "--redis-url", "redis://" + closed + "/2", "--timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = doctor(context.Background(), &out, &f)
	if !errors.Is(err, errProblems) || err.Error() != "3 problems: problems found" {
		t.Fatalf("doctor: %v, want 3 problems\n%s", err, out.String())
	}
	want := fmt.Sprintf(`FAIL  redis %[1]s db 2: unreachable: dial tcp %[1]s: connect: connection refused
      fix: start Redis or fix --redis-url (HOOKLINE_REDIS_URL); meanwhile dispatchers and retriers hold their offsets and retry, nothing is dropped, deliveries wait
FAIL  kafka %[1]s: unreachable: dial tcp %[1]s: connect: connection refused
      fix: start the broker, or point --brokers (HOOKLINE_BROKERS) at a listener this host can reach
FAIL  kafka: no seed broker reachable; topic, lag and registry checks skipped
      fix: start Kafka or fix --brokers; until it is back, dispatchers and retriers stop consuming, producers' writes fail or wait, nothing committed is lost

3 problems, 0 warnings
`, closed)
	if out.String() != want {
		t.Errorf("doctor against stopped services:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestDoctorKafkaUpRedisDown(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		s := newDoctorSetup(t, testbackend.Backend{Kafka: k, RedisURL: "redis://127.0.0.1:1/0"})
		out, err := s.run(t)
		if !errors.Is(err, errProblems) || err.Error() != "1 problem: problems found" {
			t.Fatalf("doctor: %v, want 1 problem (Redis)\n%s", err, out)
		}
		wantLines(t, out, `(?m)^FAIL  redis 127.0.0.1:1 db 0: unreachable: dial tcp 127.0.0.1:1: connect: connection refused$`, `(?m)^ok    kafka: 1 broker`)
	})
}
