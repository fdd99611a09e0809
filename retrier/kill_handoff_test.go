package retrier

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// TestKillRightAfterHandOffKeepsOneAttemptPerTier stops the retrier the
// crash way (Run's context ends: nothing more is committed) right after a
// hand-off, before the source record's offset commits, again and again,
// each time starting a fresh member of the same group. The re-read source
// records must find the handed or dead mark: every delivery gets exactly
// the attempts its answers call for, one dead letter at most, and each
// (delivery, attempt) is written to the tiers once.
func TestKillRightAfterHandOffKeepsOneAttemptPerTier(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
			killAfterHandOffs(t, k, rdb, prefix)
		})
	})
}

// killReceiver answers 500 to every POST of a delivery id until it has
// answered pass[id] of them, then 204; ids without pass always get 500.
type killReceiver struct {
	mu    sync.Mutex
	pass  map[string]int
	posts map[string][]int // statuses in arrival order
}

func (s *killReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Hookline-Delivery")
	s.mu.Lock()
	status := http.StatusInternalServerError
	if n, ok := s.pass[id]; ok && len(s.posts[id]) >= n {
		status = http.StatusNoContent
	}
	s.posts[id] = append(s.posts[id], status)
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *killReceiver) got2xx(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.posts[id] {
		if st/100 == 2 {
			return true
		}
	}
	return false
}

func (s *killReceiver) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.posts[id])
}

func killAfterHandOffs(t *testing.T, k testbackend.Kafka, rdb redis.UniversalClient, prefix string) {
	const perEndpoint, maxKills = 12, 20
	schedule := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	name := testbackend.UniqueName(t)
	topics := kafka.Topics{Dead: name + ".dead", Attempts: name + ".attempts"}.WithDefaults()
	tiers := retry.Policy{Prefix: name + ".retry.", Delays: schedule}.WithDefaults()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, k.Admin(t), 2, -1, append(tiers.Topics(), topics.Dead)...); err != nil {
		t.Fatal(err)
	}

	recv := &killReceiver{pass: map[string]int{}, posts: map[string][]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	set, err := endpoints.NewSet(
		&endpoints.Endpoint{ID: "dies", TenantID: "t-1", URL: srv.URL, Secrets: []string{"whsec-kill"}, MaxItems: 1, Timeout: endpoints.Duration(2 * time.Second)},
		&endpoints.Endpoint{ID: "lives", TenantID: "t-1", URL: srv.URL, Secrets: []string{"whsec-kill"}, MaxItems: 1, Timeout: endpoints.Duration(2 * time.Second)},
	)
	if err != nil {
		t.Fatal(err)
	}

	// Tier one as the dispatcher leaves it: first attempts failed. Those
	// of "dies" fail on every tier and end as dead letters; those of
	// "lives" fail 0 to 3 more times, then get a 2xx.
	want := map[string]int{} // POSTs per delivery
	dies := map[string]bool{}
	cl := k.Client(t, kafka.ProducerOpts()...)
	start := time.Now()
	for i := 0; i < 2*perEndpoint; i++ {
		d := &delivery.Delivery{ID: delivery.NewID(), TenantID: "t-1", EventType: "task.created", Items: 1,
			Body:    []byte(fmt.Sprintf(`{"type":"task.created","eventId":"e%d","tenantId":"t-1","data":{}}`, i)),
			Attempt: 1, FirstAttempt: start, LastStatus: 500, Reason: "HTTP 500", Due: start.Add(time.Duration(i) * 80 * time.Millisecond)}
		if i%2 == 0 {
			d.EndpointID = "dies"
			dies[d.ID] = true
			want[d.ID] = len(schedule)
		} else {
			d.EndpointID = "lives"
			recv.pass[d.ID] = (i / 2) % len(schedule)
			want[d.ID] = recv.pass[d.ID] + 1
		}
		if err := cl.ProduceSync(ctx, d.Record(tiers.Topic(0))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Done when every delivery got its 2xx or its dead letter (judged
	// from the receiver and the dead letters, not from the marks under test).
	finished := func() bool {
		for id, n := range want {
			if recv.count(id) < n || !dies[id] && !recv.got2xx(id) {
				return false
			}
		}
		dead := map[string]bool{}
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		if err := replay.Scan(sctx, k.Brokers, nil, []string{topics.Dead}, func(d *delivery.Delivery, _ time.Time) { dead[d.ID] = true }); err != nil {
			t.Fatal(err)
		}
		for id := range dies {
			if !dead[id] {
				return false
			}
		}
		return true
	}

	sender := delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	// A kill also cuts the POSTs in flight: the receiver may have had
	// them, the retrier never got their answer and rightly makes them
	// again. The retrier logs each one; they are the only extra POSTs
	// allowed.
	cutCore, cutLog := observer.New(zap.InfoLevel)
	logger := zap.New(zapcore.NewTee(cutCore, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)).Core()))
	kills, runs := 0, 0
	var stats Stats
	deadline := time.Now().Add(3 * time.Minute)
	for {
		runs++
		kill := kills < maxKills && !finished()
		rctx, cancel := context.WithCancel(ctx)
		// EndpointConcurrency at Concurrency: no endpoint is ever paced
		// here, so every record in the tiers is an attempt's hand-off (a
		// paced deferral is a second record of the same attempt, as a
		// re-enqueue is; pace_test.go covers those).
		cfg := Config{Brokers: k.Brokers, Group: name + ".r", Topics: topics, Retry: tiers, Endpoints: set, Redis: rdb, RedisPrefix: prefix,
			Sender: sender, CommitInterval: 200 * time.Millisecond, Logger: logger,
			Concurrency: DefaultConcurrency, EndpointConcurrency: DefaultConcurrency}
		var once sync.Once
		killed := make(chan struct{})
		if kill {
			cfg.afterHandOff = func(work context.Context, _ *delivery.Delivery, _ string) {
				once.Do(func() { close(killed); cancel() })
				// Nothing after this point happens in a killed process.
				<-work.Done()
			}
		}
		ret, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- ret.Run(rctx) }()

		stop := func() {
			sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
			defer scancel()
			if err := ret.Shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
		ended := false
		for done := false; !done; {
			select {
			case <-killed:
				kills++
				done = true
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					stop()
					t.Fatalf("not finished after %d kills and %d runs: %s", kills, runs, recvSummary(recv, want))
				}
				if finished() {
					// Let any extra attempt or dead letter show before counting.
					time.Sleep(2 * time.Second)
					stop()
					done, ended = true, true
				}
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		cancel()
		st := ret.Stats()
		stats.AlreadyHanded += st.AlreadyHanded
		stats.AlreadyDead += st.AlreadyDead
		stats.Attempts += st.Attempts
		stats.Dead += st.Dead
		stats.Retried += st.Retried
		stats.AlreadyDone += st.AlreadyDone
		if ended {
			break
		}
	}

	// What the tiers and the dead letters hold.
	type key struct {
		id      string
		attempt int
	}
	inTiers := map[key]int{}
	deadOf := map[string]int{}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := replay.Scan(sctx, k.Brokers, nil, tiers.Topics(), func(d *delivery.Delivery, _ time.Time) {
		inTiers[key{d.ID, d.Attempt}]++
	}); err != nil {
		t.Fatal(err)
	}
	if err := replay.Scan(sctx, k.Brokers, nil, []string{topics.Dead}, func(d *delivery.Delivery, _ time.Time) {
		deadOf[d.ID]++
	}); err != nil {
		t.Fatal(err)
	}

	cuts := map[string]int{}
	for _, e := range cutLog.FilterMessage(msgCut).All() {
		cuts[e.ContextMap()["delivery"].(string)]++
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	var wrongAttempts, wrongDead, okAfterDead, dupRecords, deadLetters, posts int
	for id, n := range want {
		got := recv.posts[id]
		posts += len(got)
		deadLetters += deadOf[id]
		if len(got) < n || len(got) > n+cuts[id] {
			wrongAttempts++
			t.Errorf("delivery %s (%s): %d attempts %v, want %d (%d cut by a kill)", id, endpointOf(dies, id), len(got), got, n, cuts[id])
		}
		wantDead := 0
		if dies[id] {
			wantDead = 1
		}
		if deadOf[id] != wantDead {
			wrongDead++
			t.Errorf("delivery %s (%s): %d dead letters, want %d", id, endpointOf(dies, id), deadOf[id], wantDead)
		}
		for _, s := range got {
			if s/100 == 2 && deadOf[id] > 0 {
				okAfterDead++
				t.Errorf("delivery %s: dead-lettered and answered %d", id, s)
			}
		}
	}
	for k, n := range inTiers {
		if n != 1 {
			dupRecords += n - 1
			t.Errorf("delivery %s attempt %d: %d records in the tiers", k.id, k.attempt, n)
		}
	}
	hist := map[int]int{}
	for id := range want {
		hist[len(recv.posts[id])]++
	}
	t.Logf("%s: kills=%d runs=%d deliveries=%d posts=%d (want %d) attempts-per-delivery=%v "+
		"dead_letters=%d (want %d) wrong_attempts=%d wrong_dead=%d ok_after_dead=%d duplicate_tier_records=%d "+
		"skipped_handed=%d skipped_dead=%d already_done=%d cut_sends=%d",
		t.Name(), kills, runs, len(want), posts, sum(want), hist, deadLetters, len(dies),
		wrongAttempts, wrongDead, okAfterDead, dupRecords, stats.AlreadyHanded, stats.AlreadyDead, stats.AlreadyDone, len(cutLog.FilterMessage(msgCut).All()))
	if kills < maxKills/3 {
		t.Errorf("only %d kills: the test did not exercise the hand-off", kills)
	}
}

func endpointOf(dies map[string]bool, id string) string {
	if dies[id] {
		return "dies"
	}
	return "lives"
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func recvSummary(recv *killReceiver, want map[string]int) string {
	var short []string
	for id, n := range want {
		if got := recv.count(id); got < n {
			short = append(short, fmt.Sprintf("%s %d/%d", id, got, n))
		}
	}
	sort.Strings(short)
	return fmt.Sprint(short)
}
