// Package testbackend runs one test body on every backend hookline supports:
// in-process kfake and miniredis always, and real Apache Kafka and Redis when
// HOOKLINE_TEST_KAFKA (bootstrap list) and HOOKLINE_TEST_REDIS (redis URL)
// are set. Shared suites call ForEachKafka / ForEachRedis so that no
// behavior is tested on the fakes alone.
package testbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hookline/hookline/internal/dev"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables naming real backends.
const (
	EnvKafka = "HOOKLINE_TEST_KAFKA"
	EnvRedis = "HOOKLINE_TEST_REDIS"
	// EnvRedisCluster and EnvRedisSentinel are the URLs of a Redis
	// Cluster (redis+cluster://...) and of a Sentinel's master
	// (redis+sentinel://...), as `deployments/local/redis.sh
	// cluster-url` and `sentinel-url` print them.
	EnvRedisCluster  = "HOOKLINE_TEST_REDIS_CLUSTER"
	EnvRedisSentinel = "HOOKLINE_TEST_REDIS_SENTINEL"
)

// Kafka is one Kafka backend for a test.
type Kafka struct {
	Name    string // "kfake" or "kafka"
	Brokers []string
	// Fake is the in-process cluster, nil on real Kafka.
	Fake *kfake.Cluster
	// Opts are what every client of this backend needs: TLS and SASL
	// (the Security options of a SecureKafka). Default none.
	Opts []kgo.Opt
}

// ForEachKafka runs fn as a subtest per Kafka backend.
func ForEachKafka(t *testing.T, fn func(t *testing.T, k Kafka)) {
	t.Helper()
	t.Run("kfake", func(t *testing.T) { fn(t, NewFake(t)) })
	if b := os.Getenv(EnvKafka); b != "" {
		t.Run("kafka", func(t *testing.T) { fn(t, Kafka{Name: "kafka", Brokers: strings.Split(b, ",")}) })
	}
}

// NewFake starts an in-process cluster closed at test end.
func NewFake(t testing.TB, opts ...kfake.Opt) Kafka {
	t.Helper()
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "250"}),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return Kafka{Name: "kfake", Brokers: c.ListenAddrs(), Fake: c}
}

// Topic creates a topic unique to this test with the given partitions
// (replication factor: the broker's default) and returns its name.
func (k Kafka) Topic(t testing.TB, partitions int32) string {
	t.Helper()
	name := UniqueName(t)
	adm := k.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s on %s: %v", name, k.Name, err)
	}
	// A broker answers the create before every broker's metadata has the
	// topic; a produce that comes first is refused as unknown.
	for {
		md, err := adm.ListTopics(ctx, name)
		if err == nil {
			if d, ok := md[name]; ok && d.Err == nil && len(d.Partitions) == int(partitions) && leadersKnown(d) {
				return name
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s on %s: not in the metadata 30s after its creation", name, k.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leadersKnown(d kadm.TopicDetail) bool {
	for _, p := range d.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}

// Admin returns an admin client closed at test end.
func (k Kafka) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(k.Client(t))
}

// Client returns a Kafka client with opts, closed at test end.
func (k Kafka) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, k.Opts...)
	c, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// ReadAll consumes topic from the start until n records arrived or the
// deadline passed, and returns what it read.
func (k Kafka) ReadAll(t testing.TB, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	c := k.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// UniqueName is a Kafka-safe name unique to this test run.
func UniqueName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(n) > 150 {
		n = n[len(n)-150:]
	}
	return "t." + n + "." + hex.EncodeToString(b[:])
}

// Backend pairs a Kafka with a Redis: kfake with miniredis always, and real
// Kafka with real Redis (or miniredis when only Kafka is given) when the
// environment names them.
type Backend struct {
	Kafka
	Redis       redis.UniversalClient
	RedisPrefix string
	// RedisURL reaches the same Redis from another process.
	RedisURL string
}

// startMiniredis runs a miniredis whose keys expire in real time.
func startMiniredis(t testing.TB) *miniredis.Miniredis {
	m := miniredis.RunT(t)
	t.Cleanup(dev.KeepTime(m))
	return m
}
