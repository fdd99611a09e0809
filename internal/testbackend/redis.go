package testbackend

import (
	"os"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/redisconn"
	"github.com/redis/go-redis/v9"
)

// RedisTopology is one real Redis a suite runs on, beside miniredis.
type RedisTopology struct {
	// Name is the subtest's: "redis" (one server), "redis_cluster",
	// "redis_sentinel".
	Name string
	// Env names the variable holding its URL.
	Env string
}

// RedisTopologies are the real Redis setups the environment may name.
var RedisTopologies = []RedisTopology{
	{Name: "redis", Env: EnvRedis},
	{Name: "redis_cluster", Env: EnvRedisCluster},
	{Name: "redis_sentinel", Env: EnvRedisSentinel},
}

// NewRedis connects to the URL of topology r's variable, closed at test
// end, as hookline's commands do (redisconn).
func NewRedis(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := redisconn.NewClient(redisconn.Config{URL: url})
	if err != nil {
		t.Fatalf("redis %s: %v", url, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// ForEachRedis runs fn as a subtest per Redis backend, each on an empty
// keyspace of its own (a fresh miniredis; on real Redis, keys under a
// unique prefix returned as the second argument): miniredis always, and
// one server, a Redis Cluster and a Sentinel's master when the
// environment names them (EnvRedis, EnvRedisCluster, EnvRedisSentinel).
func ForEachRedis(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		fn(t, NewMiniredis(t), UniqueName(t)+":")
	})
	for _, r := range RedisTopologies {
		if u := os.Getenv(r.Env); u != "" {
			t.Run(r.Name, func(t *testing.T) { fn(t, NewRedis(t, u), UniqueName(t)+":") })
		}
	}
}

// NewMiniredis starts an in-process Redis closed at test end.
func NewMiniredis(t testing.TB) *redis.Client {
	t.Helper()
	m := startMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// ForEachBackend runs fn as a subtest per backend pair whose Redis is one
// server: kfake with miniredis, and real Kafka with real Redis (or
// miniredis when only Kafka is given). A test may stand a proxy in front
// of Redis (Backend.RedisURL names one address).
func ForEachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("kfake", func(t *testing.T) {
		m := startMiniredis(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, Backend{Kafka: NewFake(t), Redis: rdb, RedisPrefix: UniqueName(t) + ":", RedisURL: "redis://" + m.Addr() + "/0"})
	})
	if k := os.Getenv(EnvKafka); k != "" {
		t.Run("kafka", func(t *testing.T) {
			b := Backend{Kafka: realKafka(k), RedisPrefix: UniqueName(t) + ":"}
			if u := os.Getenv(EnvRedis); u != "" {
				b.Redis, b.RedisURL = NewRedis(t, u), u
			} else {
				m := startMiniredis(t)
				b.Redis, b.RedisURL = redis.NewClient(&redis.Options{Addr: m.Addr()}), "redis://"+m.Addr()+"/0"
			}
			fn(t, b)
		})
	}
}

// ForEachRedisBackend is ForEachBackend and, on real Kafka, a Redis
// Cluster and a Sentinel's master when the environment names them
// (subtests redis_cluster and redis_sentinel): for the suites whose
// guarantees rest on Redis's state (leases, done marks, settled spans,
// the delivery-log index). Backend.RedisURL is then a redis+cluster:// or
// redis+sentinel:// URL.
func ForEachRedisBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	ForEachBackend(t, fn)
	k := os.Getenv(EnvKafka)
	if k == "" {
		return
	}
	for _, r := range RedisTopologies[1:] {
		if u := os.Getenv(r.Env); u != "" {
			t.Run(r.Name, func(t *testing.T) {
				fn(t, Backend{Kafka: realKafka(k), Redis: NewRedis(t, u), RedisPrefix: UniqueName(t) + ":", RedisURL: u})
			})
		}
	}
}

func realKafka(bootstrap string) Kafka {
	return Kafka{Name: "kafka", Brokers: strings.Split(bootstrap, ",")}
}
