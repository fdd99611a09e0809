package dispatcher_test

// BenchmarkDispatch measures the dispatcher end to end against a
// delivery-only ceiling measured in the same run:
//
//	go test -run '^$' -bench Dispatch -benchtime 1x ./dispatcher/
//
// For each mode (batched: 10,000 events per delivery; single: one envelope
// per delivery) it preloads a topic of an in-process broker with
// seed-catalog events of one tenant, written through the producer library
// (so records carry the routing headers), starts a local receiver that
// verifies every signature, and then
//
//   - runs the hookline binary's dispatcher command as a process of its own
//     against that topic (Redis: an in-process miniredis over TCP), timing
//     from process start until the receiver has counted every event, and
//     reads the process's peak RSS (VmHWM) before stopping it;
//   - runs the ceiling, ./internal/benchrig ceiling, also a process of its
//     own: a minimal signer that POSTs the same record values in the same
//     batch sizes, signed the same way and with the same headers, one
//     request at a time over one keep-alive connection (as the dispatcher's
//     default per-endpoint concurrency of 1), to the same receiver, with no
//     Kafka and no Redis. It loads the events before its clock starts.
//
// It reports events/s of both, their ratio (dispatcher / ceiling) and the
// dispatcher's peak RSS, and prints one summary line per mode. Targets:
// batched ratio >= 0.60, single ratio >= 0.80, peak RSS < 256 MB.
//
// Besides those it reports CPU seconds per run: of the dispatcher process
// (dispatcher-cpu-s), of the test binary while the dispatcher runs (broker,
// Redis and receiver: rig-cpu-s), and of the ceiling (signer process plus
// receiver: ceiling-cpu-s). On a machine with C cores, wall time times C
// bounds their sums.
//
// Environment:
//
//	HOOKLINE_BENCH_BATCHED_EVENTS  events preloaded for batched mode (default 1000000)
//	HOOKLINE_BENCH_SINGLE_EVENTS   events preloaded for single mode (default 20000)
//	HOOKLINE_BENCH_INPROCESS=1     run the dispatcher inside the test binary
//	                               instead of as a process (no peak RSS then)
//	HOOKLINE_BENCH_CPUPROFILE=F    write a CPU profile of the dispatcher to
//	                               F.<mode>: with INPROCESS, of the test binary
//	                               during the timed phase (broker and receiver
//	                               included); else the dispatcher process is
//	                               `benchrig dispatcher` (the dispatcher
//	                               command's wiring plus a profile) in place
//	                               of hookline
//	HOOKLINE_BENCH_VERBOSE=1       copy the dispatcher process's stderr (e.g.
//	                               with GODEBUG=gctrace=1) to the test's
//
// Each b.N iteration uses a fresh consumer group over the same preloaded
// topic, so -benchtime 3x repeats the measurement; figures are totals over
// the iterations. Speed is measured here only, never asserted in tests.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
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

// benchBins are the compiled processes.
type benchBins struct {
	dispatcher []string // command and leading arguments; nil: in-process
	rig        string   // benchrig, for the ceiling
}

func BenchmarkDispatch(b *testing.B) {
	bins := benchBins{rig: benchBuild(b, "./internal/benchrig")}
	switch {
	case os.Getenv("HOOKLINE_BENCH_INPROCESS") == "1":
	case os.Getenv("HOOKLINE_BENCH_CPUPROFILE") != "":
		bins.dispatcher = []string{bins.rig, "dispatcher"}
	default:
		bins.dispatcher = []string{benchBuild(b, "../cmd/hookline"), "dispatcher"}
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
		b.Run(m.name, func(b *testing.B) { benchDispatchMode(b, m, bins) })
	}
}

// benchBuild compiles a command once for the benchmark.
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
	maxGap    time.Duration // longest pause between requests at the receiver
	peakRSSKB int64         // of the dispatcher process; 0 in-process
	// cpu is the CPU time of the sending process (0 in-process); rigCPU
	// that of the test binary during the phase.
	cpu, rigCPU time.Duration
}

func (r *benchResult) add(o benchResult) {
	r.elapsed += o.elapsed
	r.firstPost += o.firstPost
	r.posts += o.posts
	r.maxGap = max(r.maxGap, o.maxGap)
	r.peakRSSKB = max(r.peakRSSKB, o.peakRSSKB)
	r.cpu += o.cpu
	r.rigCPU += o.rigCPU
}

func benchDispatchMode(b *testing.B, m benchMode, bins benchBins) {
	set := benchPreload(b, m.events)
	redisAddr, redisName := benchRedis(b)
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
		if bins.dispatcher != nil {
			disp.add(benchRunProcess(b, bins.dispatcher, set, redisAddr, ep, recv, m))
		} else {
			disp.add(benchRunInProcess(b, set, redisAddr, ep, recv, m))
		}
		b.StopTimer()
		ceil.add(benchRunCeiling(b, bins.rig, set, ep, recv, m.maxItems))
		b.StartTimer()
	}
	b.StopTimer()

	total := float64(m.events) * float64(b.N)
	dispRate := total / disp.elapsed.Seconds()
	ceilRate := total / ceil.elapsed.Seconds()
	ratio := dispRate / ceilRate
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(dispRate, "events/s")
	b.ReportMetric(ceilRate, "ceiling-events/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(per(disp.firstPost), "first-post-s")
	b.ReportMetric(per(disp.rigCPU), "rig-cpu-s")
	b.ReportMetric(per(ceil.cpu+ceil.rigCPU), "ceiling-cpu-s")
	rss := "n/a (in-process)"
	if disp.peakRSSKB > 0 {
		b.ReportMetric(float64(disp.peakRSSKB)/1024, "peakRSS-MB")
		b.ReportMetric(per(disp.cpu), "dispatcher-cpu-s")
		rss = fmt.Sprintf("%.0f MB", float64(disp.peakRSSKB)/1024)
	}
	fmt.Printf("dispatch %s: hookline=%.0f ev/s ceiling=%.0f ev/s ratio=%.2f peakRSS=%s (Redis: %s)\n", m.name, dispRate, ceilRate, ratio, rss, redisName)
	fmt.Printf("  %s detail: events=%d posts=%d/%d wall=%.2fs/%.2fs first-post=%.2fs max-gap=%s/%s cpu: dispatcher=%.2fs broker+redis+receiver=%.2fs | ceiling signer=%.2fs receiver=%.2fs\n",
		m.name, m.events, disp.posts/int64(b.N), ceil.posts/int64(b.N), per(disp.elapsed), per(ceil.elapsed), per(disp.firstPost),
		disp.maxGap.Round(time.Millisecond), ceil.maxGap.Round(time.Millisecond),
		per(disp.cpu), per(disp.rigCPU), per(ceil.cpu), per(ceil.rigCPU))
}

// benchRedis is the Redis the dispatcher records settled spans in: the
// real one named by HOOKLINE_TEST_REDIS when set (its database is taken
// from the URL; keys are namespaced by each run's fresh consumer group),
// else an in-process miniredis, which costs several times a real Redis's
// CPU per command and so weighs on single-event mode.
func benchRedis(b *testing.B) (addr, name string) {
	if url := os.Getenv(testbackend.EnvRedis); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			b.Fatalf("%s=%q: %v", testbackend.EnvRedis, url, err)
		}
		return opts.Addr, "redis"
	}
	return testbackend.NewMiniredis(b).Options().Addr, "miniredis"
}

// benchEvents is the preloaded topic, and the same record values in a file
// for the ceiling.
type benchEvents struct {
	k     testbackend.Kafka
	topic string
	file  string  // see benchrig's readEvents
	sizes []int32 // value sizes, in file order
}

func (s *benchEvents) n() int { return len(s.sizes) }

// maxBatchBytes is the largest body of consecutive groups of items values.
func (s *benchEvents) maxBatchBytes(items int) int {
	most, cur := 0, 0
	for i, n := range s.sizes {
		if i%items == 0 {
			cur = 1 // '['
		}
		cur += int(n) + 1 // value and ',' or ']'
		most = max(most, cur)
	}
	return most
}

// benchPreload starts a broker, writes n seed-catalog events of one tenant
// through the producer (as many publishers as CPUs, for speed), and reads
// the records back into the ceiling's events file.
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

	set := &benchEvents{k: k, topic: topic, file: filepath.Join(b.TempDir(), "events.bin"), sizes: make([]int32, 0, n)}
	f, err := os.Create(set.file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [binary.MaxVarintLen64]byte
	put := func(p []byte) {
		_, _ = w.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(p)))])
		_, _ = w.Write(p)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(32<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, benchWait)
	defer cancel()
	total := 0
	for set.n() < n {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			b.Fatalf("read back %d of %d records", set.n(), n)
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("read back %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var typ []byte
			for _, h := range r.Headers {
				if h.Key == envelope.HeaderType {
					typ = h.Value
				}
			}
			put(typ)
			put(r.Value)
			set.sizes = append(set.sizes, int32(len(r.Value)))
			total += len(r.Value)
		})
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if set.n() != n {
		b.Fatalf("topic holds %d records, want %d", set.n(), n)
	}
	b.Logf("preloaded %d events (%d bytes, %.0f B avg) into %d partitions in %s",
		n, total, float64(total)/float64(n), benchPartitions, time.Since(start).Round(time.Millisecond))
	return set
}

// benchReceiver verifies and counts deliveries: it reads the whole body,
// checks the default scheme's signature (sha256=<hex HMAC-SHA256 of the raw
// body>, constant-time), the other headers and the body's shape, counts the
// events from the batch-size header, and answers 204. Anything else fails
// the round.
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

	gapMu  sync.Mutex
	last   time.Duration // after start, of the last verified request
	maxGap time.Duration // longest wait between verified requests
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
	now := time.Since(rd.start)
	rd.firstAt.CompareAndSwap(0, int64(now))
	rd.gapMu.Lock()
	if rd.last > 0 {
		rd.maxGap = max(rd.maxGap, now-rd.last)
	}
	rd.last = now
	rd.gapMu.Unlock()
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

// wait waits for the round to count its target (or a problem, the sender's
// early exit, or benchWait) and returns the time since the round began.
func (rd *benchRound) wait(b *testing.B, what string, exited <-chan error) time.Duration {
	b.Helper()
	t := time.NewTimer(benchWait)
	defer t.Stop()
	select {
	case <-rd.done:
	case err := <-exited:
		b.Fatalf("%s: sender exited early: %v (receiver counted %d of %d events)", what, err, rd.events.Load(), rd.target)
	case <-t.C:
		b.Fatalf("%s: receiver counted %d of %d events in %d posts after %s", what, rd.events.Load(), rd.target, rd.posts.Load(), benchWait)
	}
	elapsed := time.Since(rd.start)
	if p := rd.problem.Load(); p != nil {
		b.Fatalf("%s: receiver rejected a delivery: %s", what, *p)
	}
	return elapsed
}

// check fails unless the round counted exactly its target and no problem.
func (rd *benchRound) check(b *testing.B, what string) {
	b.Helper()
	if p := rd.problem.Load(); p != nil {
		b.Fatalf("%s: receiver rejected a delivery: %s", what, *p)
	}
	if got := rd.events.Load(); got != rd.target {
		b.Fatalf("%s: receiver counted %d events, want exactly %d", what, got, rd.target)
	}
}

func (rd *benchRound) result(elapsed time.Duration) benchResult {
	rd.gapMu.Lock()
	defer rd.gapMu.Unlock()
	return benchResult{elapsed: elapsed, firstPost: time.Duration(rd.firstAt.Load()), posts: rd.posts.Load(), maxGap: rd.maxGap}
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

// benchRunProcess runs the dispatcher command until the receiver has every
// event, reads its peak RSS and CPU time, and stops it with SIGTERM.
func benchRunProcess(b *testing.B, command []string, set *benchEvents, redisAddr string, ep *endpoints.Endpoint,
	recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	epFile := benchEndpointsFile(b, ep)
	group := testbackend.UniqueName(b)
	args := append(command[1:len(command):len(command)],
		"--brokers", strings.Join(set.k.Brokers, ","), "--events-topic", set.topic, "--group", group,
		"--endpoints", epFile, "--redis-url", "redis://"+redisAddr+"/0", "--allow-networks", "127.0.0.0/8")
	if prof := os.Getenv("HOOKLINE_BENCH_CPUPROFILE"); prof != "" {
		args = append(args, "--cpuprofile", prof+"."+m.name)
	} else {
		args = append(args, "--allow-http", "--retry-schedule", "1m", "--log-level", "warn")
	}
	cmd := exec.Command(command[0], args...)
	cmd.Env = os.Environ()
	var stderr benchLockedBuffer
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
			b.Fatalf("dispatcher stop: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		b.Fatalf("dispatcher did not stop within 30s of SIGTERM")
	}
	rd.check(b, "dispatch "+m.name)
	if s := stderr.String(); strings.Contains(s, `"level":"warn"`) || strings.Contains(s, `"level":"error"`) {
		b.Logf("dispatcher warnings:\n%s", s)
	}
	r := rd.result(elapsed)
	r.peakRSSKB, r.cpu, r.rigCPU = rss, cpu, rigCPU
	return r
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
	r := rd.result(elapsed)
	r.rigCPU = rigCPU
	return r
}

// benchRunCeiling runs `benchrig ceiling` over the same events, timing from
// its start signal (events already loaded) until the receiver has them all.
func benchRunCeiling(b *testing.B, rig string, set *benchEvents, ep *endpoints.Endpoint, recv *benchReceiver, maxItems int) benchResult {
	b.Helper()
	cmd := exec.Command(rig, "ceiling", "--url", ep.URL, "--secret", ep.Secrets[0],
		"--items", strconv.Itoa(maxItems), "--events", set.file, "--header-prefix", benchHeaderPfx)
	var stderr benchLockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 2)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		exited <- fmt.Errorf("ceiling process ended: %s", strings.TrimSpace(stderr.String()))
	}()
	expect := func(want string) {
		select {
		case got := <-lines:
			if got != want {
				b.Fatalf("ceiling process said %q, want %q", got, want)
			}
		case err := <-exited:
			b.Fatal(err)
		case <-time.After(benchWait):
			b.Fatalf("ceiling process did not say %q within %s", want, benchWait)
		}
	}
	expect("ready")
	_, cpu0, err := benchProcStats(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	rig0 := benchSelfCPU()
	rd := recv.begin(set.n())
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		b.Fatal(err)
	}
	elapsed := rd.wait(b, "ceiling", exited)
	rigCPU := benchSelfCPU() - rig0
	expect("done")
	_, cpu1, err := benchProcStats(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	rd.check(b, "ceiling")
	r := rd.result(elapsed)
	r.cpu, r.rigCPU = cpu1-cpu0, rigCPU
	return r
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
