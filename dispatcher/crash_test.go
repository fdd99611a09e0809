package dispatcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// TestSIGKILLLosesNothingAndNeverRePostsASettledDelivery runs the dispatcher
// as a separate process, kills it with SIGKILL mid-stream several times
// while events keep arriving, and counts at the receiver.
func TestSIGKILLLosesNothingAndNeverRePostsASettledDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes; run without -short")
	}
	bin := testbackend.BuildHookline(t)
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		const total, kills, maxItems = 3000, 4, 25
		s := newSink(t, "X-Hookline")
		ep := endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = maxItems, endpoints.Duration(100*time.Millisecond)
		})
		dir := t.TempDir()
		epFile := filepath.Join(dir, "endpoints.json")
		raw, _ := json.Marshal(map[string]any{"endpoints": []*endpoints.Endpoint{ep}})
		if err := os.WriteFile(epFile, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		topic := b.Topic(t, 3)
		group := testbackend.UniqueName(t)
		prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close(context.Background())

		// Publish steadily while the dispatcher dies and comes back.
		pubDone := make(chan []string, 1)
		go func() {
			var ids []string
			for i := 0; i < total; i++ {
				res, err := prod.Publish(context.Background(), taskEvent("t-1", "obj"+strconv.Itoa(i%50), "s"+strconv.Itoa(i)))
				if err != nil {
					t.Errorf("publish: %v", err)
					break
				}
				ids = append(ids, res.EventID)
				if i%10 == 0 {
					time.Sleep(30 * time.Millisecond) // about 10 s in all
				}
			}
			pubDone <- ids
		}()

		start := func() *exec.Cmd {
			cmd := exec.Command(bin, "dispatcher", "--brokers", strings.Join(b.Brokers, ","), "--events-topic", topic,
				"--group", group, "--endpoints", epFile, "--redis-url", b.RedisURL, "--allow-http",
				"--allow-networks", "127.0.0.0/8", "--session-timeout", "6s", "--instance-id", group+"-member",
				"--retry-schedule", "1m", "--log-level", logLevel())
			cmd.Env = os.Environ()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return cmd
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for k := 0; k < kills; k++ {
			cmd := start()
			// Let it get some way into the stream, then kill it hard.
			time.Sleep(time.Duration(1500+rng.IntN(1500)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			posts, _ := s.Snapshot()
			t.Logf("kill %d: receiver has %d posts", k+1, len(posts))
		}
		ids := <-pubDone
		cmd := start()
		seen := s.Delivered(t, len(ids), 90*time.Second)
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("graceful stop: %v", err)
		}

		posts, _ := s.Snapshot()
		perDelivery := map[string]int{}
		for _, p := range posts {
			if p.Status/100 == 2 {
				perDelivery[p.Header.Get("X-Hookline-Delivery")]++
			}
		}
		repost := 0
		for _, n := range perDelivery {
			repost += n - 1
		}
		lost, dup := 0, 0
		for _, id := range ids {
			switch n := seen[id]; {
			case n == 0:
				lost++
			case n > 1:
				dup += n - 1
			}
		}
		msg := fmt.Sprintf("sigkill (%s): published=%d kills=%d posts=%d lost=%d reposted_settled_deliveries=%d events_resent_in_crash_window=%d (bound %d)",
			b.Name, len(ids), kills, len(posts), lost, repost, dup, kills*maxItems)
		t.Log(msg)
		fmt.Println(msg)
		if lost != 0 || repost != 0 {
			t.Fatalf("lost %d events, re-posted %d settled deliveries", lost, repost)
		}
		// A kill between a 2xx and its record in Redis re-sends that one
		// request's events (the documented crash window); no more.
		if dup > kills*maxItems {
			t.Fatalf("%d events sent twice: more than one request per kill", dup)
		}
	})
}

func logLevel() string {
	if l := os.Getenv("HOOKLINE_CRASH_LOG_LEVEL"); l != "" {
		return l
	}
	return "error"
}
