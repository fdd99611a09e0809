package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/redisconn"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TestRedisFailoverLosesNothing runs the pipeline on real Kafka with a
// Sentinel's master and with a Redis Cluster, and fails Redis over in the
// middle of a stream of events: `SENTINEL FAILOVER` promotes the replica,
// `CLUSTER FAILOVER` on a replica takes over the master that holds the
// dispatcher's settled spans of partition 0 (and a third of the
// retrier's marks). Every delivery fails its first POST, so each event
// is marked by the dispatcher (handed to the retry tier) and leased and
// marked done by the retrier. Counted at the receiver: every event is
// delivered, and no more are sent twice than the deliveries the two
// processes may have in flight (their concurrency, 1 each), the window of
// a crash.
func TestRedisFailoverLosesNothing(t *testing.T) {
	k := os.Getenv(testbackend.EnvKafka)
	for _, r := range testbackend.RedisTopologies[1:] {
		u := os.Getenv(r.Env)
		if k == "" || u == "" {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			redisFailover(t, testbackend.Kafka{Name: "kafka", Brokers: strings.Split(k, ",")}, u)
		})
	}
}

func redisFailover(t *testing.T, k testbackend.Kafka, url string) {
	ctx := context.Background()
	const secret, n, window = "whsec-redis-failover-0123456789", 240, 2
	name := testbackend.UniqueName(t)
	events := k.Topic(t, 3)
	recv := testbackend.NewReceiver(t, "X-Hookline", secret)
	recv.FailFirst(1, http.StatusServiceUnavailable, "")
	set, err := endpoints.NewSet(&endpoints.Endpoint{ID: "ep-fo", TenantID: "t-fo", URL: recv.URL() + "/hooks", Secrets: []string{secret}, MaxItems: 1})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--brokers", strings.Join(k.Brokers, ","), "--topic-prefix", name + ".", "--retry-schedule", "300ms",
		"--allow-http", "--allow-networks", "127.0.0.0/8", "--session-timeout", "6s", "--redis-url", url}
	s, df, err := parseDispatcher(quietFlagSet("dispatcher"), append(args, "--events-topic", events, "--group", name+".disp", "--concurrency", "1"))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := s.redis.client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	lg, _ := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	x := deps{endpoints: set, redis: rdb, log: lg}
	dcfg, err := buildDispatcher(s, df, x)
	if err != nil {
		t.Fatal(err)
	}
	s, rf, err := parseRetrier(quietFlagSet("retrier"), append(args, "--group", name+".ret", "--endpoint-concurrency", "1"))
	if err != nil {
		t.Fatal(err)
	}
	rcfg, err := buildRetrier(s, rf, x)
	if err != nil {
		t.Fatal(err)
	}
	disp, err := dispatcher.New(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	ret, err := retrier.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	runBoth(t, disp, ret)
	prod, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Close(ctx) })

	c, _ := s.redis.config()
	var wg sync.WaitGroup
	var took time.Duration
	var foErr error
	for i := range n {
		if i == n/3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				foErr = failOver(ctx, c, "hookline:settled:"+name+".disp:{"+events+":0}")
				took = time.Since(start)
			}()
		}
		ev := producer.Event{Type: "task.created", TenantID: "t-fo", Data: map[string]any{"task": map[string]any{"id": "task-" + strconv.Itoa(i), "title": "Ducts"}}}
		if _, err := prod.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	wg.Wait()
	if foErr != nil {
		t.Fatalf("failover: %v", foErr)
	}
	recv.Delivered(t, n, 120*time.Second)
	time.Sleep(3 * time.Second) // late copies, if any, arrive meanwhile
	seen := recv.Delivered(t, n, time.Second)
	resent := 0
	for _, c := range seen {
		resent += c - 1
	}
	lost := n - len(seen)
	line := fmt.Sprintf("failover: %s %s: events=%d delivered=%d lost=%d re-sent=%d (window %d) failover took %s",
		t.Name(), c.Topology(), n, len(seen), lost, resent, window, took.Round(time.Millisecond))
	t.Log(line)
	fmt.Println(line)
	if lost != 0 || resent > window {
		t.Fatalf("lost %d events, re-sent %d (window %d)", lost, resent, window)
	}
}

// failOver fails the master over: Sentinel's, or, on a cluster, the one
// holding key, to its replica; it returns once the new master is in
// place.
func failOver(ctx context.Context, c redisconn.Config, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	found, err := redisconn.Discover(ctx, c)
	if err != nil {
		return err
	}
	switch found.Topology {
	case redisconn.Sentinel:
		return failOverSentinel(ctx, c, found)
	case redisconn.Cluster:
		return failOverCluster(ctx, c, key)
	}
	return fmt.Errorf("no failover for %s", found.Topology)
}

func failOverSentinel(ctx context.Context, c redisconn.Config, found redisconn.Found) error {
	addrs := strings.Split(strings.SplitN(strings.TrimPrefix(c.URL, redisconn.SchemeSentinel+"://"), "/", 2)[0], ",")
	sc := redis.NewSentinelClient(&redis.Options{Addr: addrs[0]})
	defer sc.Close()
	// A Sentinel promotes only a replica it sees in sync; after an
	// earlier failover (a previous run) the old master takes a few
	// seconds to become one, and a failover asked meanwhile does nothing.
	for !replicaReady(ctx, sc, found.Master) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no replica of %s in sync: %w", found.Master, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := sc.Failover(ctx, found.Master).Err(); err != nil {
		return fmt.Errorf("SENTINEL FAILOVER %s: %w", found.Master, err)
	}
	for {
		hp, err := sc.GetMasterAddrByName(ctx, found.Master).Result()
		if err == nil && len(hp) == 2 && hp[0]+":"+hp[1] != found.Addr {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("master still %s: %w", found.Addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replicaReady says whether the sentinel sees a replica of master that it
// would promote: up, linked to the master.
func replicaReady(ctx context.Context, sc *redis.SentinelClient, master string) bool {
	rs, err := sc.Replicas(ctx, master).Result()
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r["flags"] == "slave" && r["master-link-status"] == "ok" {
			return true
		}
	}
	return false
}

func failOverCluster(ctx context.Context, c redisconn.Config, key string) error {
	rdb, err := redisconn.NewClient(c)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cc := rdb.(*redis.ClusterClient)
	m, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return err
	}
	master := m.Options().Addr
	id, err := m.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	nodes, err := m.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	replica := ""
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && strings.Contains(f[2], "slave") && f[3] == id {
			replica = strings.SplitN(f[1], "@", 2)[0]
		}
	}
	if replica == "" {
		return fmt.Errorf("master %s has no replica", master)
	}
	r := redis.NewClient(&redis.Options{Addr: replica})
	defer r.Close()
	if err := r.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		return fmt.Errorf("CLUSTER FAILOVER on %s: %w", replica, err)
	}
	for {
		role, err := r.Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s of %s not master: %w", replica, master, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
