package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/redisconn"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const redisDownFix = "start Redis or fix --redis-url (HOOKLINE_REDIS_URL); meanwhile dispatchers and retriers hold their offsets and retry, nothing is dropped, deliveries wait"

// checkRedis finds the topology --redis-url names (one server, a
// Sentinel's master, a cluster's masters and slots), pings it and reads,
// of every master, the settings that decide whether its state survives:
// persistence and the eviction policy.
func checkRedis(ctx context.Context, f *doctorFlags) []finding {
	c, err := f.redis.config()
	if err != nil {
		return []finding{{sevProblem, "redis", err.Error(), "fix the --redis-* flags (HOOKLINE_REDIS_*)"}}
	}
	c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.MaxRetries = f.timeout, f.timeout, f.timeout, -1
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// The client's own lines (dials retried) would come between the
	// findings; the findings say what failed.
	redis.SetLogger(redisLog{zap.NewNop()})
	found, err := redisconn.Discover(ctx, c)
	if err != nil {
		fix := redisDownFix
		if errors.Is(err, redisconn.ErrSentinelUnreachable) || errors.Is(err, redisconn.ErrUnknownMaster) {
			fix = "start the sentinels or fix --redis-url (HOOKLINE_REDIS_URL); meanwhile dispatchers and retriers hold their offsets and retry, nothing is dropped, deliveries wait"
		}
		return []finding{{sevProblem, "redis " + c.String(), err.Error(), fix}}
	}
	switch found.Topology {
	case redisconn.Sentinel:
		return checkSentinel(ctx, c, found)
	case redisconn.Cluster:
		return checkCluster(ctx, c, found)
	}
	subject := fmt.Sprintf("redis %s db %d", found.Addr, found.DB)
	// Dialled first: a refused port is said plainly, and the client's
	// own dial retries (and their log lines) are skipped.
	if err := dialable(ctx, found.Addr, f.timeout); err != nil {
		return []finding{{sevProblem, subject, fmt.Sprintf("unreachable: %v", err), redisDownFix}}
	}
	rdb, err := redisconn.NewClient(c)
	if err != nil {
		return []finding{{sevProblem, "redis", redisFlagError(err).Error(), "fix the --redis-* flags (HOOKLINE_REDIS_*)"}}
	}
	defer rdb.Close()
	return checkRedisServer(ctx, subject, rdb)
}

func checkSentinel(ctx context.Context, c redisconn.Config, found redisconn.Found) []finding {
	subject := "redis sentinel"
	out := []finding{{sevOK, subject, found.String(), ""}}
	if found.Sentinels < found.Asked {
		out = append(out, finding{sevWarn, subject, fmt.Sprintf("%d of the %d sentinels named do not answer", found.Asked-found.Sentinels, found.Asked),
			"start them or drop them from --redis-url; a failover needs a majority of the sentinels"})
	}
	if found.Replicas == 0 {
		out = append(out, finding{sevWarn, subject, "the master has no replica: a failover has nowhere to go",
			"add a replica (replicaof) so that Sentinel can promote it"})
	}
	rdb, err := redisconn.NewClient(c)
	if err != nil {
		return append(out, finding{sevProblem, "redis", redisFlagError(err).Error(), "fix the --redis-* flags (HOOKLINE_REDIS_*)"})
	}
	defer rdb.Close()
	return append(out, checkRedisServer(ctx, fmt.Sprintf("redis master %q at %s db %d", found.Master, found.Addr, found.DB), rdb)...)
}

func checkCluster(ctx context.Context, c redisconn.Config, found redisconn.Found) []finding {
	subject := "redis cluster"
	out := []finding{{sevOK, subject, found.String(), ""}}
	if found.SlotsCovered < redisconn.SlotCount || found.ClusterState != "state ok" {
		out[0].sev = sevProblem
		out[0].fix = "assign every slot to a master (redis-cli --cluster fix); meanwhile the keys of uncovered slots cannot be read or written, and deliveries of their partitions and tenants wait"
	}
	if found.MastersWithoutCopy > 0 {
		out = append(out, finding{sevWarn, subject, fmt.Sprintf("%d of %d masters have no replica: losing one loses its slots' leases and done marks", found.MastersWithoutCopy, len(found.Masters)),
			"give every master a replica (cluster-replicas 1)"})
	}
	rdb, err := redisconn.NewClient(c)
	if err != nil {
		return append(out, finding{sevProblem, "redis", redisFlagError(err).Error(), "fix the --redis-* flags (HOOKLINE_REDIS_*)"})
	}
	defer rdb.Close()
	var mu sync.Mutex
	var per []finding
	err = rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		fs := checkRedisServer(ctx, "redis master "+m.Options().Addr, m)
		mu.Lock()
		per = append(per, fs...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		out = append(out, finding{sevProblem, subject, err.Error(), redisDownFix})
	}
	// The masters answer in any order; print them in one.
	slices.SortStableFunc(per, func(a, b finding) int { return strings.Compare(a.subject, b.subject) })
	return append(out, per...)
}

// checkRedisServer pings one server and reads its version, persistence
// and eviction policy.
func checkRedisServer(ctx context.Context, subject string, rdb redis.Cmdable) []finding {
	start := time.Now()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return []finding{{sevProblem, subject, fmt.Sprintf("does not answer PING: %v", err), redisDownFix}}
	}
	rtt := time.Since(start).Round(time.Microsecond)
	info := map[string]string{}
	for _, sec := range []string{"server", "persistence", "memory"} {
		txt, err := rdb.Info(ctx, sec).Result()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(txt, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				info[k] = v
			}
		}
	}
	version, ok := info["redis_version"]
	if !ok {
		return []finding{{sevWarn, subject, fmt.Sprintf("answers PING in %s but not INFO server: version, persistence and eviction unknown", rtt),
			"use Redis 6.2 or newer (or a compatible server that answers INFO)"}}
	}
	out := []finding{{sevOK, subject, fmt.Sprintf("Redis %s, PING %s", version, rtt), ""}}
	if major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0]); major < 6 {
		out = append(out, finding{sevProblem, subject, "Redis " + version + " is older than 6.2", "upgrade Redis to 6.2 or newer"})
	}
	if p := info["maxmemory_policy"]; p != "" && p != "noeviction" {
		out = append(out, finding{sevProblem, subject, fmt.Sprintf("maxmemory-policy %s may evict leases and done marks, and a delivered delivery can then be sent again", p),
			"CONFIG SET maxmemory-policy noeviction (and size maxmemory for the done marks of the retry horizon plus the replay window)"})
	}
	if info["aof_enabled"] == "0" && info["rdb_last_save_time"] != "" && rdbOff(ctx, rdb) {
		out = append(out, finding{sevWarn, subject, "persistence is off (no AOF, no RDB saves): a restart forgets settled spans, leases and done marks",
			"run Redis with --appendonly yes; after a loss, receivers see re-sent deliveries (same ids) and dedupe them"})
	}
	return out
}

// rdbOff reports RDB snapshots disabled; a server that refuses CONFIG
// (managed Redis) is given the benefit of the doubt.
func rdbOff(ctx context.Context, rdb redis.Cmdable) bool {
	v, err := rdb.ConfigGet(ctx, "save").Result()
	return err == nil && strings.TrimSpace(v["save"]) == ""
}
