package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// TestDevTopicPrefixNamesEveryTopic runs the dev stack on its embedded
// broker with a prefix and lists what exists once it is up: the topics it
// created and those its dispatcher and retrier created or read.
func TestDevTopicPrefixNamesEveryTopic(t *testing.T) {
	c, err := parseDev(newFlagSet("dev", ""), []string{"--topic-prefix", "acme.", "--retry-schedule", "1m,10m",
		"--kafka-port", "0", "--api-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--partitions", "1", "--shutdown-timeout", "5s"})
	if err != nil {
		t.Fatal(err)
	}
	broker, _ := startDev(t, c)

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := []string{"acme.attempts", "acme.dead", "acme.events", "acme.invalid", "acme.registry", "acme.retry.10m0s", "acme.retry.1m0s", "acme.retry.now"}
	var names []string
	// The dispatcher and retrier join their groups (and create what they
	// write) after ready; give them that long.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		topics, err := adm.ListTopics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		names = topics.Names()
		groups, err := adm.ListGroups(context.Background())
		if err == nil && len(groups) >= 2 && slices.Equal(names, want) {
			break
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "acme.") && !strings.HasPrefix(n, "__") {
			t.Errorf("topic %s ignores --topic-prefix", n)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("topics %v, want %v", names, want)
	}
	if c.topics.Events != "acme.events" {
		t.Errorf("dev consumes and demo-produces to %s", c.topics.Events)
	}
}

func TestDevEventsTopicGivenWinsOverThePrefix(t *testing.T) {
	c, err := parseDev(newFlagSet("dev", ""), []string{"--topic-prefix", "acme.", "--events-topic", "domain.events"})
	if err != nil {
		t.Fatal(err)
	}
	if c.topics.Events != "domain.events" || c.topics.Dead != "acme.dead" {
		t.Fatalf("topics %+v", c.topics)
	}
}

// startDev runs the dev stack until the test ends and returns its broker
// and Redis.
func startDev(t *testing.T, c devConfig) (string, redis.UniversalClient) {
	t.Helper()
	type up struct {
		addr string
		rdb  redis.UniversalClient
	}
	ready := make(chan up, 1)
	c.ready = func(r devReady) { ready <- up{r.Kafka, r.Redis} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devStack(ctx, c, zap.NewNop()) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dev: %v", err)
			}
		}
	})
	select {
	case u := <-ready:
		return u.addr, u.rdb
	case err := <-done:
		stopped = true
		t.Fatalf("dev stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev not ready within 30s")
	}
	return "", nil
}

// TestDevRedisSurvivesARestart stops dev and starts it again on the same
// data dir: what was in its in-process Redis, TTLs included, is still there.
func TestDevRedisSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--kafka-port", "0", "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--partitions", "1", "--shutdown-timeout", "5s"}
	run := func(check func(rdb redis.UniversalClient)) {
		c, err := parseDev(newFlagSet("dev", ""), args)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		type up struct {
			addr string
			rdb  redis.UniversalClient
		}
		ready := make(chan up, 1)
		c.ready = func(r devReady) { ready <- up{r.Kafka, r.Redis} }
		done := make(chan error, 1)
		go func() { done <- devStack(ctx, c, zap.NewNop()) }()
		select {
		case u := <-ready:
			check(u.rdb)
		case err := <-done:
			t.Fatalf("dev stopped: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("dev not ready within 30s")
		}
		// Stopped as soon as it is ready: the Shutdowns may reach the
		// dispatcher and the retrier before their Run has begun polling.
		// Each remembers its Shutdown, so dev drains and returns nil.
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("dev: %v", err)
		}
	}
	ctx := context.Background()
	run(func(rdb redis.UniversalClient) {
		if err := rdb.Set(ctx, "hookline:done:d1", "done", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, "kept", "forever", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, "short", "gone", 100*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, "h", "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAdd(ctx, "z", redis.Z{Score: 2.5, Member: "m"}).Err(); err != nil {
			t.Fatal(err)
		}
	})
	time.Sleep(200 * time.Millisecond) // past "short"'s TTL while stopped
	run(func(rdb redis.UniversalClient) {
		if v, err := rdb.Get(ctx, "hookline:done:d1").Result(); err != nil || v != "done" {
			t.Errorf("done mark after restart: %q, %v", v, err)
		}
		if ttl := rdb.TTL(ctx, "hookline:done:d1").Val(); ttl <= 50*time.Minute || ttl > time.Hour {
			t.Errorf("done mark's TTL after restart: %s, want just under 1h", ttl)
		}
		if v, err := rdb.Get(ctx, "kept").Result(); err != nil || v != "forever" {
			t.Errorf("key without TTL after restart: %q, %v", v, err)
		}
		if ttl := rdb.TTL(ctx, "kept").Val(); ttl != -1 {
			t.Errorf("key without TTL has TTL %s after restart", ttl)
		}
		if n := rdb.Exists(ctx, "short").Val(); n != 0 {
			t.Errorf("key whose TTL ran out while dev was stopped is back")
		}
		if v := rdb.HGet(ctx, "h", "f").Val(); v != "v" {
			t.Errorf("hash field after restart: %q", v)
		}
		if s := rdb.ZScore(ctx, "z", "m").Val(); s != 2.5 {
			t.Errorf("sorted-set score after restart: %v", s)
		}
	})
}

// TestDevDemoGoesThroughTheAPI: dev --demo creates its endpoints through
// the API with the tenant key it prints, and their deliveries show in the
// API's delivery log.
func TestDevDemoGoesThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	r := runDevStack(t, "--demo", "--demo-rate", "50")
	cl := newAPIClient(r.API, r.Key)
	var page struct {
		Data []struct{ ID, Name string }
	}
	if err := cl.do(ctx, "GET", "/v1/endpoints", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 {
		t.Fatalf("tenant %s has %d endpoints through the API, want the demo's 3: %+v", r.Tenant, len(page.Data), page.Data)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var dl struct {
			Data []struct{ Status string }
		}
		if err := cl.do(ctx, "GET", "/v1/endpoints/"+page.Data[0].ID+"/deliveries", nil, &dl); err != nil {
			t.Fatal(err)
		}
		if len(dl.Data) > 0 && dl.Data[len(dl.Data)-1].Status != "" {
			t.Logf("%q: %d deliveries in the API's log, oldest %s", page.Data[0].Name, len(dl.Data), dl.Data[len(dl.Data)-1].Status)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery of the demo endpoint in the API's log within 20s")
		}
	}
	if err := newAPIClient(r.API, "hlk_wrong").do(ctx, "GET", "/v1/endpoints", nil, nil); err == nil {
		t.Fatal("a wrong key listed endpoints")
	}
}

// runDevStack runs the dev stack with args (on a free port, a fresh data dir)
// until the test ends, and returns what it reports once ready.
func runDevStack(t *testing.T, args ...string) devReady {
	t.Helper()
	r, stop := startDevIn(t, t.TempDir(), args...)
	t.Cleanup(stop)
	return r
}

// startDevIn runs the dev stack with args on a free port and data dir
// dir, and returns what it reports once ready and a stop that drains it
// and reports its error; the test ends it if it has not.
func startDevIn(t *testing.T, dir string, args ...string) (devReady, func()) {
	t.Helper()
	c, err := parseDev(newFlagSet("dev", ""), append(args,
		"--kafka-port", "0", "--api-addr", "127.0.0.1:0", "--ops-addr", "", "--data-dir", dir, "--partitions", "1", "--shutdown-timeout", "5s"))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan devReady, 1)
	c.ready = func(r devReady) { ready <- r }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devStack(ctx, c, zap.NewNop()) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dev: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case r := <-ready:
		return r, stop
	case err := <-done:
		done <- err
		t.Fatalf("dev stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev not ready within 30s")
	}
	return devReady{}, stop
}
