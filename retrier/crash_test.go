package retrier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// TestSIGKILLAndRedisOutage runs the retrier as a separate process over a
// tier preloaded with deliveries falling due over several seconds, kills it
// with SIGKILL several times and cuts its Redis once, then counts at the
// receiver: every delivery gets its 2xx, none is lost, and a delivery is
// POSTed again after a 2xx at most once per kill (the crash window between
// a 2xx and its done mark), and no first-tier record is attempted again once
// its successor was handed off to the second tier. Counting goes on past
// the last first 2xx for longer than the longest tier's delay, so a late
// second POST is seen too.
func TestSIGKILLAndRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes; run without -short")
	}
	bin := testbackend.BuildHookline(t)
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const total, kills = 300, 4
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(1, 500, "") // every delivery fails once more in the retrier: two tiers in play
		ep := &endpoints.Endpoint{ID: "ep1", TenantID: "t-1", URL: s.URL() + "/hook", Secrets: []string{secret}, MaxItems: 1}
		dir := t.TempDir()
		epFile := filepath.Join(dir, "endpoints.json")
		raw, _ := json.Marshal(map[string]any{"endpoints": []*endpoints.Endpoint{ep}})
		if err := os.WriteFile(epFile, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		name := testbackend.UniqueName(t)
		tiers := retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{time.Second, 2 * time.Second}}.WithDefaults()
		adm := b.Admin(t)
		if err := kafka.EnsureTopics(context.Background(), adm, 3, -1, tiers.Topics()...); err != nil {
			t.Fatal(err)
		}

		// Preload tier 1: deliveries due over the next 8 seconds.
		cl := b.Client(t, kafka.ProducerOpts()...)
		start := time.Now()
		ids := make([]string, total)
		for i := range ids {
			d := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep1", TenantID: "t-1", EventType: "task.created", Items: 1,
				Body:    []byte(fmt.Sprintf(`{"type":"task.created","eventId":"e%d","tenantId":"t-1","createdUtc":"2026-11-22T10:00:00.000Z","data":{"task":{"id":"x"}}}`, i)),
				Attempt: 1, FirstAttempt: start, LastStatus: 500, Reason: "HTTP 500", Due: start.Add(time.Duration(i) * 8 * time.Second / total)}
			ids[i] = d.ID
			rec := d.Record(tiers.Topic(0))
			rec.Partition = int32(i % 3)
			if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}

		opt, err := redis.ParseURL(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testbackend.NewProxy(t, opt.Addr)
		redisURL := strings.Replace(b.RedisURL, opt.Addr, proxy.Addr(), 1)
		group := name + ".group"
		run := func() *exec.Cmd {
			cmd := exec.Command(bin, "retrier", "--brokers", strings.Join(b.Brokers, ","), "--endpoints", epFile,
				"--redis-url", redisURL, "--group", group, "--allow-http", "--allow-networks", "127.0.0.0/8",
				"--retry-schedule", "1s,2s", "--topic-prefix", name+".", "--session-timeout", "6s",
				"--instance-id", group+"-member", "--log-level", "error")
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return cmd
		}
		for k := 0; k < kills; k++ {
			cmd := run()
			time.Sleep(1500 * time.Millisecond)
			if k == 1 {
				proxy.Cut() // Redis away for a second while the retrier runs
				time.Sleep(time.Second)
				proxy.Restore()
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
		cmd := run()
		defer func() { _ = cmd.Process.Signal(syscall.SIGINT); _ = cmd.Wait() }()

		// Once every delivery has its 2xx, keep counting for longer than
		// the longest tier's delay, so that a record attempted again late
		// (after a kill, from a tier that still held it) shows.
		grace := tiers.Delay(tiers.Tiers()-1) + time.Second
		deadline := time.Now().Add(90 * time.Second)
		var until time.Time
		for {
			posts, bad := s.Snapshot()
			if len(bad) > 0 {
				t.Fatalf("receiver rejected: %v", bad)
			}
			ok := map[string]int{}
			failedAt, early := map[string]time.Time{}, 0
			var lastFirst time.Time
			for _, p := range posts {
				id := p.Header.Get("X-Hookline-Delivery")
				if p.Status/100 != 2 {
					failedAt[id] = p.At
					continue
				}
				// A 2xx sooner than the second tier's delay after the 500 came
				// from the first tier's record attempted again after a kill,
				// though its successor was already handed off.
				if ok[id] == 0 {
					if p.At.Sub(failedAt[id]) < 2*time.Second {
						early++
					}
					if p.At.After(lastFirst) {
						lastFirst = p.At
					}
				}
				ok[id]++
			}
			lost, again, after := 0, 0, 0
			for _, id := range ids {
				switch n := ok[id]; {
				case n == 0:
					lost++
				case n > 1:
					again += n - 1
				}
			}
			for _, p := range posts {
				if p.At.After(lastFirst) {
					after++
				}
			}
			if lost == 0 && until.IsZero() {
				until = lastFirst.Add(grace)
			}
			if lost == 0 && time.Now().After(until) || time.Now().After(deadline) {
				msg := fmt.Sprintf("retrier sigkill (%s): deliveries=%d kills=%d redis_cut=1 posts=%d lost=%d second_2xx_posts=%d (bound %d) attempted_again_after_hand_off=%d posts_after_last_first_2xx=%d (counted for %s)",
					b.Name, total, kills, len(posts), lost, again, kills, early, after, time.Since(lastFirst).Round(time.Millisecond))
				t.Log(msg)
				fmt.Println(msg)
				if lost != 0 || again > kills {
					t.Fatal("lost deliveries or re-sent more than the crash window allows")
				}
				if early != 0 {
					t.Fatal("a record already handed off to the next tier was attempted again after a kill")
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
