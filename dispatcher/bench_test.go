package dispatcher_test

// BenchmarkDispatch measures the dispatcher end to end against a
// delivery-only ceiling measured in the same run:
//
//	go test -run '^$' -bench Dispatch -benchtime 1x ./dispatcher/
//
// For each mode (batched: 10,000 events per delivery; single: one envelope
// per delivery) it preloads an in-process broker topic with seed-catalog
// events written through the producer library (so records carry the
// routing headers), then
//
//   - runs the hookline binary's dispatcher command as a separate process
//     against that topic and a local receiver that verifies every
//     signature, timing from process start until the receiver has counted
//     every event, and reads the process's peak RSS (VmHWM) before stopping
//     it;
//   - runs the ceiling: a minimal signer that POSTs the same event bytes in
//     the same batch sizes, signed the same way with the same headers, with
//     one keep-alive net/http client (one request in flight, as the
//     dispatcher's default per-endpoint concurrency) to the same receiver,
//     with no Kafka and no Redis.
//
// It reports events/s of both, their ratio, and the dispatcher's peak RSS.
// Targets: batched ratio >= 0.60, single ratio >= 0.80, peak RSS < 256 MB.
//
// Environment:
//
//	HOOKLINE_BENCH_BATCHED_EVENTS  events preloaded for batched mode (default 1000000)
//	HOOKLINE_BENCH_SINGLE_EVENTS   events preloaded for single mode (default 20000)
//	HOOKLINE_BENCH_INPROCESS=1     run the dispatcher inside the test binary
//	                               instead of as a process (no peak RSS then)
//	HOOKLINE_BENCH_CPUPROFILE=F    CPU profile of the dispatcher, written to
//	                               F.<mode>: with INPROCESS, of the timed phase
//	                               of the test binary (broker and receiver
//	                               included); else the process runs
//	                               ./internal/benchrig (the dispatcher command's
//	                               wiring plus a profile) instead of hookline
//	HOOKLINE_BENCH_VERBOSE=1       copy the dispatcher process's stderr (e.g.
//	                               with GODEBUG=gctrace=1) to the test's
//
// Besides events/s it reports CPU seconds: of the dispatcher process
// (dispatcher-cpu-s), of the test binary while the dispatcher runs (broker
// and receiver, rig-cpu-s) and of the test binary during the ceiling
// (signer and receiver, ceiling-cpu-s); wall time times 2 cores bounds them.
//
// Each b.N iteration uses a fresh consumer group over the same preloaded
// topic, so -benchtime 3x repeats the measurement; figures are totals over
// the iterations.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	benchSecret     = "whsec-bench-secret-0123456789"
	benchTenant     = "t-bench"
	benchPartitions = 6
	benchHeaderPfx  = signing.DefaultPrefix
	// benchWait bounds one dispatcher or ceiling phase.
	benchWait = 5 * time.Minute
)

// benchMode is one sub-benchmark.
type benchMode struct {
	name     string
	maxItems int
	envVar   string
	events   int
}

func BenchmarkDispatch(b *testing.B) {
	inProcess := os.Getenv("HOOKLINE_BENCH_INPROCESS") == "1"
	var bin string
	switch {
	case inProcess:
	case os.Getenv("HOOKLINE_BENCH_CPUPROFILE") != "":
		bin = benchBuild(b, "./internal/benchrig")
	default:
		bin = benchBuild(b, "../cmd/hookline")
	}
	modes := []benchMode{
		{name: "batched", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000},
		{name: "single", maxItems: 1, envVar: "HOOKLINE_BENCH_SINGLE_EVENTS", events: 20_000},
	}
	for _, m := range modes {
		if v := os.Getenv(m.envVar); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive number of events", m.envVar, v)
			}
			m.events = n
		}
		b.Run(m.name, func(b *testing.B) { benchDispatchMode(b, m, bin) })
	}
}

// benchBuild compiles the dispatcher's command once for the benchmark.
func benchBuild(b *testing.B, pkg string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// benchResult is one timed phase.
type benchResult struct {
	elapsed time.Duration
	// firstPost is the time from the phase start to the receiver's first
	// verified request.
	firstPost time.Duration
	posts     int64
	peakRSSKB int64 // dispatcher process only; 0 when unknown
	// cpu is CPU time of the dispatcher process (0 in-process); rigCPU of
	// the test binary during the phase.
	cpu, rigCPU time.Duration
}

func benchDispatchMode(b *testing.B, m benchMode, bin string) {
	set := benchPreload(b, m.events)
	rdb := testbackend.NewMiniredis(b)
	recv := newBenchReceiver([]byte(benchSecret), benchHeaderPfx)
	srv := httptest.NewServer(recv)
	b.Cleanup(srv.Close)
	ep := &endpoints.Endpoint{
		ID: "ep-bench", TenantID: benchTenant, URL: srv.URL + "/hooks/bench", Secrets: []string{benchSecret},
		MaxItems: m.maxItems,
		// A time seal only for a trailing partial batch.
		MaxWait: endpoints.Duration(time.Second),
	}
	// Batches must seal by items, as the ceiling groups them: 10,000 seed
	// events (about 3.7 MB) fit the default byte cap.
	if _, _, maxBytes, _ := ep.Limits(); set.maxBatchBytes(m.maxItems) > maxBytes {
		b.Fatalf("a batch of %d events needs %d bytes, over MaxBytes %d", m.maxItems, set.maxBatchBytes(m.maxItems), maxBytes)
	}

	var disp, ceil benchResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var r benchResult
		if bin != "" {
			r = benchRunProcess(b, bin, set, rdb.Options().Addr, ep, recv, m)
		} else {
			r = benchRunInProcess(b, set, rdb.Options().Addr, ep, recv, m)
		}
		disp.elapsed += r.elapsed
		disp.firstPost += r.firstPost
		disp.posts += r.posts
		disp.peakRSSKB = max(disp.peakRSSKB, r.peakRSSKB)
		disp.cpu += r.cpu
		disp.rigCPU += r.rigCPU

		b.StopTimer()
		c := benchRunCeiling(b, set, ep, recv, m.maxItems)
		ceil.elapsed += c.elapsed
		ceil.posts += c.posts
		ceil.rigCPU += c.rigCPU
		b.StartTimer()
	}
	b.StopTimer()

	total := float64(m.events) * float64(b.N)
	dispRate := total / disp.elapsed.Seconds()
	ceilRate := total / ceil.elapsed.Seconds()
	ratio := dispRate / ceilRate
	b.ReportMetric(dispRate, "events/s")
	b.ReportMetric(ceilRate, "ceiling-events/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(disp.firstPost.Seconds()/float64(b.N), "first-post-s")
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(disp.rigCPU), "rig-cpu-s")
	b.ReportMetric(per(ceil.rigCPU), "ceiling-cpu-s")
	rss := "n/a (in-process)"
	if disp.peakRSSKB > 0 {
		b.ReportMetric(float64(disp.peakRSSKB)/1024, "peakRSS-MB")
		b.ReportMetric(per(disp.cpu), "dispatcher-cpu-s")
		rss = fmt.Sprintf("%.0f MB", float64(disp.peakRSSKB)/1024)
	}
	fmt.Printf("dispatch %s: hookline=%.0f ev/s ceiling=%.0f ev/s ratio=%.2f peakRSS=%s\n", m.name, dispRate, ceilRate, ratio, rss)
	fmt.Printf("  %s detail: events=%d posts=%d/%d first-post=%.2fs wall=%.2fs/%.2fs cpu: dispatcher=%.2fs broker+receiver=%.2fs ceiling=%.2fs\n",
		m.name, m.events, disp.posts/int64(b.N), ceil.posts/int64(b.N), per(disp.firstPost),
		per(disp.elapsed), per(ceil.elapsed), per(disp.cpu), per(disp.rigCPU), per(ceil.rigCPU))
}

// benchEvents is the preloaded topic and, for the ceiling, the record
// values read back from it, in one arena.
type benchEvents struct {
	k     testbackend.Kafka
	topic string
	arena []byte
	ends  []int    // value i is arena[ends[i-1]:ends[i]]
	types []string // hl-type of value i (interned)
}

func (s *benchEvents) n() int { return len(s.ends) }

func (s *benchEvents) value(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.arena[start:s.ends[i]]
}

// maxBatchBytes is the largest body of consecutive groups of size items.
func (s *benchEvents) maxBatchBytes(items int) int {
	most := 0
	for i := 0; i < s.n(); i += items {
		j := min(i+items, s.n())
		start := 0
		if i > 0 {
			start = s.ends[i-1]
		}
		most = max(most, s.ends[j-1]-start+(j-i)+1)
	}
	return most
}

// benchPreload starts a broker, writes n seed-catalog events of one tenant
// through the producer (as many publishers as CPUs, for speed), and reads
// the records back.
func benchPreload(b *testing.B, n int) *benchEvents {
	b.Helper()
	start := time.Now()
	k := testbackend.NewFake(b)
	topic := k.Topic(b, benchPartitions)
	p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: topic})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	done := func(_ producer.Published, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gen := demo.NewGenerator(uint64(20260101 + w))
			for i := w; i < n; i += workers {
				ev := gen.Next()
				ev.TenantID = benchTenant
				p.PublishAsync(ctx, ev, done)
			}
		}()
	}
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d publishes failed; first: %v", f, n, *firstErr.Load())
	}

	set := &benchEvents{k: k, topic: topic, ends: make([]int, 0, n), types: make([]string, 0, n)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(32<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, benchWait)
	defer cancel()
	interned := map[string]string{}
	for set.n() < n {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			b.Fatalf("read back %d of %d records", set.n(), n)
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("read back %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			typ := ""
			for _, h := range r.Headers {
				if h.Key == envelope.HeaderType {
					typ = string(h.Value)
				}
			}
			if _, ok := interned[typ]; !ok {
				interned[typ] = typ
			}
			set.arena = append(set.arena, r.Value...)
			set.ends = append(set.ends, len(set.arena))
			set.types = append(set.types, interned[typ])
		})
	}
	if set.n() != n {
		b.Fatalf("topic holds %d records, want %d", set.n(), n)
	}
	b.Logf("preloaded %d events (%d bytes, %.0f B avg) into %d partitions in %s",
		n, len(set.arena), float64(len(set.arena))/float64(n), benchPartitions, time.Since(start).Round(time.Millisecond))
	return set
}

// benchReceiver verifies and counts deliveries: it reads the whole body,
// checks the default scheme's signature (sha256=<hex HMAC-SHA256 of the raw
// body>, constant-time), checks the body's shape, counts its events from the
// batch-size header, and answers 204. Anything else fails the round.
type benchReceiver struct {
	secret []byte
	// header names of the default scheme
	sigHeader, sizeHeader, idHeader, eventHeader, timestampHeader string

	cur  atomic.Pointer[benchRound]
	bufs sync.Pool
}

// benchRound is one phase's counters.
type benchRound struct {
	start   time.Time
	target  int64
	events  atomic.Int64
	posts   atomic.Int64
	firstAt atomic.Int64 // ns after start
	problem atomic.Pointer[string]
	done    chan struct{}
	once    sync.Once
}

func (rd *benchRound) fail(msg string) {
	rd.problem.CompareAndSwap(nil, &msg)
	rd.once.Do(func() { close(rd.done) })
}

func newBenchReceiver(secret []byte, prefix string) *benchReceiver {
	h := signing.HeadersFor(prefix)
	return &benchReceiver{secret: secret, sigHeader: h.Signature, sizeHeader: h.BatchSize, idHeader: h.Delivery,
		eventHeader: h.Event, timestampHeader: h.Timestamp}
}

// begin starts a round expecting target events.
func (r *benchReceiver) begin(target int) *benchRound {
	rd := &benchRound{start: time.Now(), target: int64(target), done: make(chan struct{})}
	r.cur.Store(rd)
	return rd
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rd := r.cur.Load()
	bp, _ := r.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer r.bufs.Put(bp)
	body, err := benchReadBody(req, *bp)
	*bp = body[:0]
	if err != nil {
		rd.fail("read body: " + err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	mac := hmac.New(sha256.New, r.secret)
	mac.Write(body)
	var sum [sha256.Size]byte
	var want [7 + 2*sha256.Size]byte
	copy(want[:], "sha256=")
	hex.Encode(want[7:], mac.Sum(sum[:0]))
	n := 1
	var problem string
	switch size := req.Header.Get(r.sizeHeader); {
	case !hmac.Equal([]byte(req.Header.Get(r.sigHeader)), want[:]):
		problem = "signature mismatch"
	case len(req.Header.Get(r.idHeader)) != 24 || req.Header.Get(r.timestampHeader) == "" || req.Header.Get(r.eventHeader) == "":
		problem = "missing delivery id, timestamp or event header"
	case len(body) < 2:
		problem = "empty body"
	case size == "":
		if body[0] != '{' || body[len(body)-1] != '}' {
			problem = "single-event body is not one JSON object"
		}
	default:
		if n, err = strconv.Atoi(size); err != nil || n < 1 {
			problem = "batch size header " + strconv.Quote(size)
		} else if body[0] != '[' || body[1] != '{' || body[len(body)-1] != ']' {
			problem = "batch body is not a JSON array of objects"
		}
	}
	if problem != "" {
		rd.fail(problem)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rd.firstAt.CompareAndSwap(0, int64(time.Since(rd.start)))
	rd.posts.Add(1)
	if rd.events.Add(int64(n)) >= rd.target {
		rd.once.Do(func() { close(rd.done) })
	}
	w.WriteHeader(http.StatusNoContent)
}

// benchReadBody reads the whole body into buf, sized by Content-Length.
func benchReadBody(req *http.Request, buf []byte) ([]byte, error) {
	if req.ContentLength < 0 {
		return io.ReadAll(req.Body)
	}
	if int64(cap(buf)) < req.ContentLength {
		buf = make([]byte, req.ContentLength)
	}
	buf = buf[:req.ContentLength]
	if _, err := io.ReadFull(req.Body, buf); err != nil {
		return buf[:0], err
	}
	return buf, nil
}

// wait waits for the round to count its target, and checks it counted no
// more (a duplicate) and saw no problem.
func (rd *benchRound) wait(b *testing.B, what string, exited <-chan error) time.Duration {
	b.Helper()
	t := time.NewTimer(benchWait)
	defer t.Stop()
	select {
	case <-rd.done:
	case err := <-exited:
		b.Fatalf("%s: dispatcher exited early: %v (receiver counted %d of %d events)", what, err, rd.events.Load(), rd.target)
	case <-t.C:
		b.Fatalf("%s: receiver counted %d of %d events in %d posts after %s", what, rd.events.Load(), rd.target, rd.posts.Load(), benchWait)
	}
	elapsed := time.Since(rd.start)
	if p := rd.problem.Load(); p != nil {
		b.Fatalf("%s: receiver rejected a delivery: %s", what, *p)
	}
	return elapsed
}

func (rd *benchRound) check(b *testing.B, what string) {
	b.Helper()
	if p := rd.problem.Load(); p != nil {
		b.Fatalf("%s: receiver rejected a delivery: %s", what, *p)
	}
	if got := rd.events.Load(); got != rd.target {
		b.Fatalf("%s: receiver counted %d events, want exactly %d", what, got, rd.target)
	}
}

func benchEndpointsFile(b *testing.B, ep *endpoints.Endpoint) string {
	b.Helper()
	raw, err := json.Marshal(map[string]any{"endpoints": []*endpoints.Endpoint{ep}})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "endpoints.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchRunProcess runs `hookline dispatcher` until the receiver has every
// event, reads its peak RSS, and stops it.
func benchRunProcess(b *testing.B, bin string, set *benchEvents, redisAddr string, ep *endpoints.Endpoint,
	recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	epFile := benchEndpointsFile(b, ep)
	group := testbackend.UniqueName(b)
	var stderr benchLockedBuffer
	args := []string{"--brokers", strings.Join(set.k.Brokers, ","), "--events-topic", set.topic, "--group", group,
		"--endpoints", epFile, "--redis-url", "redis://" + redisAddr + "/0", "--allow-networks", "127.0.0.0/8"}
	if prof := os.Getenv("HOOKLINE_BENCH_CPUPROFILE"); prof != "" {
		args = append(args, "--cpuprofile", prof+"."+m.name)
	} else {
		args = append([]string{"dispatcher"}, append(args, "--allow-http", "--retry-schedule", "1m", "--log-level", "warn")...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	cmd.Stderr = &stderr
	if os.Getenv("HOOKLINE_BENCH_VERBOSE") == "1" {
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	}
	rig0 := benchSelfCPU()
	rd := recv.begin(set.n())
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
			b.Logf("dispatcher stderr:\n%s", stderr.String())
		}
	}()
	elapsed := rd.wait(b, "dispatch "+m.name, exited)
	rigCPU := benchSelfCPU() - rig0
	rss, cpu, err := benchProcStats(cmd.Process.Pid)
	if err != nil {
		b.Fatalf("peak RSS of the dispatcher: %v", err)
	}
	// A graceful stop: drain and commit, as on SIGTERM in production.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			b.Logf("dispatcher stop: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		b.Fatalf("dispatcher did not stop within 30s of SIGTERM")
	}
	rd.check(b, "dispatch "+m.name)
	if s := strings.TrimSpace(stderr.String()); strings.Contains(s, `"level":"warn"`) || strings.Contains(s, `"level":"error"`) {
		b.Logf("dispatcher warnings:\n%s", s)
	}
	return benchResult{elapsed: elapsed, firstPost: time.Duration(rd.firstAt.Load()), posts: rd.posts.Load(),
		peakRSSKB: rss, cpu: cpu, rigCPU: rigCPU}
}

// benchRunInProcess runs a Dispatcher in the test binary (for profiling).
func benchRunInProcess(b *testing.B, set *benchEvents, redisAddr string, ep *endpoints.Endpoint,
	recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	name := testbackend.UniqueName(b)
	eps, err := endpoints.NewSet(ep)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	d, err := dispatcher.New(dispatcher.Config{
		Brokers: set.k.Brokers, Group: name,
		Topics: kafka.Topics{Events: set.topic, Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead",
			RetryPrefix: name + ".retry.", Retry: []time.Duration{time.Minute}},
		Endpoints: eps, Redis: rdb,
		Sender: delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	})
	if err != nil {
		b.Fatal(err)
	}
	var prof *os.File
	if path := os.Getenv("HOOKLINE_BENCH_CPUPROFILE"); path != "" {
		if prof, err = os.Create(path + "." + m.name); err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan error, 1)
	rig0 := benchSelfCPU()
	rd := recv.begin(set.n())
	go func() { exited <- d.Run(ctx) }()
	elapsed := rd.wait(b, "dispatch "+m.name, exited)
	rigCPU := benchSelfCPU() - rig0
	if prof != nil {
		pprof.StopCPUProfile()
		_ = prof.Close()
	}
	st := d.Stats()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := d.Shutdown(sctx); err != nil {
		b.Fatalf("shutdown: %v", err)
	}
	if err := <-exited; err != nil {
		b.Fatalf("run: %v", err)
	}
	rd.check(b, "dispatch "+m.name)
	if st.Deferred+st.Retried+st.Dead+st.Invalid > 0 {
		b.Fatalf("dispatcher stats %+v: every delivery should have gone straight through", st)
	}
	return benchResult{elapsed: elapsed, firstPost: time.Duration(rd.firstAt.Load()), posts: rd.posts.Load(), rigCPU: rigCPU}
}

// benchRunCeiling POSTs the preloaded values in groups of maxItems, as the
// dispatcher would (an array for batches, the envelope alone for one),
// signed and with the same headers, one request at a time.
func benchRunCeiling(b *testing.B, set *benchEvents, ep *endpoints.Endpoint, recv *benchReceiver, maxItems int) benchResult {
	b.Helper()
	h := signing.HeadersFor(benchHeaderPfx)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer client.CloseIdleConnections()
	secret := []byte(ep.Secrets[0])
	var body []byte
	var idRaw [12]byte
	rig0 := benchSelfCPU()
	rd := recv.begin(set.n())
	for i := 0; i < set.n(); i += maxItems {
		j := min(i+maxItems, set.n())
		typ := set.types[i]
		if maxItems == 1 {
			body = set.value(i)
		} else {
			body = append(body[:0], '[')
			for k := i; k < j; k++ {
				if k > i {
					body = append(body, ',')
				}
				body = append(body, set.value(k)...)
				if set.types[k] != typ {
					typ = "batch"
				}
			}
			body = append(body, ']')
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		_, _ = rand.Read(idRaw[:])
		req, err := http.NewRequest(http.MethodPost, ep.URL, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", delivery.DefaultUserAgent)
		req.Header.Set(h.Event, typ)
		req.Header.Set(h.Delivery, hex.EncodeToString(idRaw[:]))
		req.Header.Set(h.Signature, sig)
		req.Header.Set(h.Timestamp, time.Now().UTC().Format(signing.TimestampLayout))
		if maxItems > 1 {
			req.Header.Set(h.BatchSize, strconv.Itoa(j-i))
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("ceiling post: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("ceiling post: HTTP %d", resp.StatusCode)
		}
	}
	elapsed := rd.wait(b, "ceiling", nil)
	rigCPU := benchSelfCPU() - rig0
	rd.check(b, "ceiling")
	return benchResult{elapsed: elapsed, firstPost: time.Duration(rd.firstAt.Load()), posts: rd.posts.Load(), rigCPU: rigCPU}
}

// benchProcStats reads a live process's VmHWM (peak resident set, kB) and
// the CPU time it used so far (user + system).
func benchProcStats(pid int) (peakKB int64, cpu time.Duration, err error) {
	dir := "/proc/" + strconv.Itoa(pid)
	raw, err := os.ReadFile(dir + "/status")
	if err != nil {
		return 0, 0, err
	}
	found := false
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if peakKB, err = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err != nil {
				return 0, 0, err
			}
			found = true
		}
	}
	if !found {
		return 0, 0, errors.New("no VmHWM line in " + dir + "/status")
	}
	// Fields 14 and 15 of stat, after the parenthesised command name, are
	// utime and stime in USER_HZ ticks (100 per second on Linux).
	raw, err = os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0, errors.New("unexpected " + dir + "/stat")
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("unexpected " + dir + "/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("unexpected " + dir + "/stat")
	}
	return peakKB, time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// benchSelfCPU is the test binary's CPU time so far (user + system).
func benchSelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLockedBuffer collects a child's stderr.
type benchLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *benchLockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *benchLockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
