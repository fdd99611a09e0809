package dispatcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kadm"
)

// rebalanceScenario is one run of the kill test: how the members join and
// whether the killed one comes back, as a supervisor would bring it back.
type rebalanceScenario struct {
	name   string
	static bool // --instance-id per member
	// kills of member-a; after each but the last it is started again
	// (as a supervisor would) and killed again up later.
	kills int
	up    time.Duration
	// answer is how long the receiver takes per request.
	answer time.Duration
}

// TestSIGKILLedMemberStallsItsPartitionsOnlyForASessionTimeout runs two
// dispatcher processes in one group, SIGKILLs one while events keep
// arriving at a steady rate, and measures how long events wait between
// publish and receipt. A member that dies without leaving holds its
// partitions until the broker drops it after the session timeout; nothing
// else (the rebalance barrier, a slow rejoin of the survivor) may add more
// than a few seconds to that.
func TestSIGKILLedMemberStallsItsPartitionsOnlyForASessionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes; run without -short")
	}
	bin := testbackend.BuildHookline(t)
	observe := 20 * time.Second
	if s := os.Getenv("HOOKLINE_REBALANCE_OBSERVE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("HOOKLINE_REBALANCE_OBSERVE=%q: %v", s, err)
		}
		observe = d
	}
	scenarios := []rebalanceScenario{
		{name: "dynamic", kills: 4, up: 2 * time.Second},
		{name: "static", static: true, kills: 4, up: 2 * time.Second},
	}
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) { runKillScenario(t, b, bin, sc, observe) })
		}
	})
}

func runKillScenario(t *testing.T, b testbackend.Backend, bin string, sc rebalanceScenario, observe time.Duration) {
	const (
		session = 6 * time.Second
		margin  = 5 * time.Second
		rate    = 50 // events per second
	)
	s := newSink(t, "X-Hookline")
	s.SetDelay(sc.answer)
	ep := endpointFor("single", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })
	epFile := filepath.Join(t.TempDir(), "endpoints.json")
	raw, _ := json.Marshal(map[string]any{"endpoints": []*endpoints.Endpoint{ep}})
	if err := os.WriteFile(epFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	topic := b.Topic(t, 6)
	group := testbackend.UniqueName(t)
	// Both members would create the written topics at once, and a topic
	// just created may not be describable yet; neither race is what this
	// test is about, so the topics are made ready first.
	written := kafka.Topics{Events: topic, Invalid: group + ".invalid", Attempts: group + ".attempts", Dead: group + ".dead"}
	adm := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, adm, 1, -1, append(written.All()[1:], group+".retry.1m0s")...); err != nil {
		t.Fatal(err)
	}
	for {
		cfgs, err := adm.DescribeTopicConfigs(ctx, written.All()...)
		if err == nil {
			for _, c := range cfgs {
				err = errors.Join(err, c.Err)
			}
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topics not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())

	// Each member says who it is in User-Agent, so receipts tell which
	// process delivered.
	start := func(name string) *exec.Cmd {
		args := []string{"dispatcher", "--brokers", strings.Join(b.Brokers, ","), "--events-topic", topic,
			"--group", group, "--endpoints", epFile, "--redis-url", b.RedisURL, "--allow-http",
			"--allow-networks", "127.0.0.0/8", "--session-timeout", session.String(),
			"--retry-schedule", "1m", "--topic-prefix", group + ".", "--user-agent", name, "--log-level", logLevel()}
		if sc.static {
			args = append(args, "--instance-id", group+"-"+name)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = os.Environ()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}

	type sent struct {
		at        time.Time
		partition int32
	}
	var mu sync.Mutex
	published := map[string]sent{}
	var order []string
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			at := time.Now()
			res, err := prod.Publish(context.Background(), taskEvent("t-1", "obj"+strconv.Itoa(i%60), "s"+strconv.Itoa(i)))
			if err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			mu.Lock()
			published[res.EventID] = sent{at: at, partition: res.Partition}
			order = append(order, res.EventID)
			mu.Unlock()
		}
	}()

	a, _ := start("member-a"), start("member-b")
	// Steady state: both members deliver.
	deadline := time.Now().Add(60 * time.Second)
	for {
		posts, _ := s.Snapshot()
		agents := map[string]bool{}
		for _, p := range posts {
			agents[p.Header.Get("User-Agent")] = true
		}
		if agents["member-a"] && agents["member-b"] {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			<-pubDone
			t.Fatalf("both members did not deliver within 60s (agents seen: %v)", agents)
		}
		time.Sleep(50 * time.Millisecond)
	}
	steady := time.Now()
	time.Sleep(3 * time.Second)

	watchDone := watchGroup(t, b, group, steady)
	var killed time.Time
	for k := 0; k < sc.kills; k++ {
		_ = a.Process.Signal(syscall.SIGKILL)
		_ = a.Wait()
		if k == 0 {
			killed = time.Now()
		}
		if k == sc.kills-1 {
			break
		}
		time.Sleep(300 * time.Millisecond)
		a = start("member-a")
		time.Sleep(sc.up)
	}
	lastKill := time.Now()
	time.Sleep(observe)
	close(stop)
	<-pubDone
	defer watchDone()

	mu.Lock()
	ids := slices.Clone(order)
	mu.Unlock()
	// Delivered counts duplicates towards its total, so wait for each id.
	seen := s.Delivered(t, len(ids), 120*time.Second)
	for until := time.Now().Add(60 * time.Second); time.Now().Before(until); {
		missing := slices.ContainsFunc(ids, func(id string) bool { return seen[id] == 0 })
		if !missing {
			break
		}
		time.Sleep(200 * time.Millisecond)
		seen = s.Delivered(t, 0, 0)
	}

	// The first 2xx receipt of each event; and which partitions member-a
	// served before it died.
	posts, _ := s.Snapshot()
	first := map[string]time.Time{}
	aParts := map[int32]bool{}
	var takeover time.Time
	for _, p := range posts {
		if p.Status/100 != 2 {
			continue
		}
		for _, e := range events(t, p.Body) {
			id := e["eventId"].(string)
			if _, ok := first[id]; !ok {
				first[id] = p.At
			}
			if p.At.After(steady) && p.At.Before(killed) && p.Header.Get("User-Agent") == "member-a" {
				aParts[published[id].partition] = true
			}
		}
	}
	for _, p := range posts {
		if p.Status/100 != 2 || !p.At.After(killed) {
			continue
		}
		for _, e := range events(t, p.Body) {
			if aParts[published[e["eventId"].(string)].partition] && (takeover.IsZero() || p.At.Before(takeover)) {
				takeover = p.At
			}
		}
	}

	// Latency of every event published in the steady state, and of those
	// published after the last kill alone.
	var lat, after []time.Duration
	lost, dup := 0, 0
	for _, id := range ids {
		n := seen[id]
		switch {
		case n == 0:
			lost++
			continue
		case n > 1:
			dup += n - 1
		}
		ev := published[id]
		if ev.at.Before(steady) {
			continue
		}
		lat = append(lat, first[id].Sub(ev.at))
		if !ev.at.Before(lastKill) {
			after = append(after, first[id].Sub(ev.at))
		}
	}
	takeoverIn := "never"
	if !takeover.IsZero() {
		takeoverIn = takeover.Sub(killed).Round(time.Millisecond).String()
	}
	all, last := summarize(lat), summarize(after)
	msg := fmt.Sprintf("rebalance kill (%s, session %s, %d kills over %s): published=%d lost=%d duplicates=%d; latency of %d events since steady p50=%s p99=%s max=%s; of %d after the last kill p50=%s p99=%s max=%s; member-a's %d partitions served again %s after the first kill",
		sc.name, session, sc.kills, lastKill.Sub(killed).Round(100*time.Millisecond), len(ids), lost, dup,
		len(lat), all.p50, all.p99, all.max, len(after), last.p50, last.p99, last.max, len(aParts), takeoverIn)
	t.Log(msg)
	if lost > 0 {
		t.Fatalf("%d events never delivered", lost)
	}
	// Each kill may strand partitions for a session timeout; kills in a
	// row may overlap but must not add up beyond that.
	if bound := lastKill.Sub(killed) + session + margin; all.max > bound {
		t.Errorf("an event waited %s, over the kills' span plus the session timeout plus %s (%s)", all.max, margin, bound.Round(time.Millisecond))
	}
	if bound := session + margin; last.max > bound {
		t.Errorf("after the last kill an event waited %s, over the session timeout plus %s (%s)", last.max, margin, bound)
	}
}

type killLatency struct{ p50, p99, max time.Duration }

func summarize(d []time.Duration) killLatency {
	if len(d) == 0 {
		return killLatency{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(q float64) time.Duration {
		return d[min(int(q*float64(len(d))), len(d)-1)].Round(time.Millisecond)
	}
	return killLatency{at(0.50), at(0.99), d[len(d)-1].Round(time.Millisecond)}
}

// watchGroup logs the group's state and member count each time either
// changes, until the returned func is called.
func watchGroup(t *testing.T, b testbackend.Backend, group string, since time.Time) func() {
	adm := b.Admin(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := ""
		for ctx.Err() == nil {
			now := describeGroup(ctx, adm, group)
			if now != last && ctx.Err() == nil {
				t.Logf("group at +%.1fs: %s", time.Since(since).Seconds(), now)
				last = now
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

// describeGroup summarises a classic or a KIP-848 group.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) string {
	if gs, err := adm.DescribeGroups(ctx, group); err == nil {
		if g, ok := gs[group]; ok && g.Err == nil && g.State != "Dead" {
			return fmt.Sprintf("classic %s, %d members", g.State, len(g.Members))
		}
	}
	cs, err := adm.DescribeConsumerGroups(ctx, group)
	if err != nil {
		return "describe: " + err.Error()
	}
	g := cs[group]
	if g.Err != nil {
		return "describe: " + g.Err.Error()
	}
	return fmt.Sprintf("consumer %s epoch %d, %d members", g.State, g.Epoch, len(g.Members))
}
