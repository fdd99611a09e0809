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
// Modes: batched (10,000 events a delivery), single (one a delivery), both
// with 4 registered endpoints; batched-headerless, the batched run over the
// same records without their hl-* headers (as any other Kafka client writes
// them), so their cost shows as the ratio of the two lines of one run; and
// batched-10k-endpoints, the batched run with 10,000 registered endpoints
// (100 of the bench tenant), so the registry's size shows likewise.
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
//	HOOKLINE_BENCH_COMPARE=BIN     also run BIN (another build of the hookline
//	                               command, e.g. of an earlier commit) in each
//	                               iteration, and report it beside this build
//	HOOKLINE_BENCH_VERBOSE=1       copy the dispatcher process's stderr (e.g.
//	                               with GODEBUG=gctrace=1) to the test's
//	HOOKLINE_BENCH_SHAPES=LIST     also run batched-<shape> and single-<shape>
//	                               for each payload shape of LIST (thin,
//	                               legacy, template), after the full-shape
//	                               modes, so a shape's cost is the ratio of
//	                               its line to the full line of one run. The
//	                               ceiling still sends the record values.
//
// Each b.N iteration uses a fresh consumer group over the same preloaded
// topic, so -benchtime 3x repeats the measurement; figures are totals over
// the iterations. Speed is measured here only, never asserted in tests.

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
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
	// registered is how many endpoints the dispatcher holds: the bench
	// endpoint and others that receive nothing (see benchEndpoints).
	registered int
	// headerless: the records carry no hl-* headers, as written by any
	// other Kafka client.
	headerless bool
	// payload is the bench endpoint's shape; nil: full.
	payload *payload.Spec
}

// benchTemplate is a Slack-style template for the template modes: it
// decodes every event and writes a short message per event.
const benchTemplate = `{"text": {{jsonStr (printf "%s %s in %s" .type .eventId .tenantId)}}}`

// benchShapeModes are the batched and single modes again for each shape
// HOOKLINE_BENCH_SHAPES lists.
func benchShapeModes(b *testing.B, base []benchMode) []benchMode {
	var out []benchMode
	for _, shape := range strings.FieldsFunc(os.Getenv("HOOKLINE_BENCH_SHAPES"), func(r rune) bool { return r == ',' || r == ' ' }) {
		spec := &payload.Spec{Shape: shape}
		if shape == payload.ShapeTemplate {
			spec.Template = benchTemplate
		}
		if err := spec.Validate(); err != nil || spec.IsFull() {
			b.Fatalf("HOOKLINE_BENCH_SHAPES: %q: want thin, legacy or template (%v)", shape, err)
		}
		for _, m := range base {
			if m.name != "batched" && m.name != "single" {
				continue
			}
			m.name, m.payload = m.name+"-"+shape, spec
			out = append(out, m)
		}
	}
	return out
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
		{name: "batched", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 4},
		// The same records without their headers.
		{name: "batched-headerless", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 4, headerless: true},
		{name: "single", maxItems: 1, envVar: "HOOKLINE_BENCH_SINGLE_EVENTS", events: 20_000, registered: 4},
		// The same batched run with a large registry: 10,000 endpoints,
		// 100 of them the bench tenant's.
		{name: "batched-10k-endpoints", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 10_000},
	}
	modes = append(modes, benchShapeModes(b, modes)...)
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
	set := benchPreload(b, m.events, m.headerless)
	redisAddr, redisName := benchRedis(b)
	recv := newBenchReceiver([]byte(benchSecret), benchHeaderPfx)
	srv := httptest.NewServer(recv)
	b.Cleanup(srv.Close)
	ep := &endpoints.Endpoint{
		ID: "ep-bench", TenantID: benchTenant, URL: srv.URL + "/hooks/bench", Secrets: []string{benchSecret},
		MaxItems: m.maxItems, Payload: m.payload,
		// A time seal only for a trailing partial batch.
		MaxWait: endpoints.Duration(time.Second),
	}
	// Batches must seal by items, as the ceiling groups them: 10,000 seed
	// events (about 3.7 MB) fit the default byte cap.
	if maxBytes := ep.Limits().MaxBytes; set.maxBatchBytes(m.maxItems) > maxBytes {
		b.Fatalf("a batch of %d events needs %d bytes, over MaxBytes %d", m.maxItems, set.maxBatchBytes(m.maxItems), maxBytes)
	}

	var disp, ceil, cmp benchResult
	cmpBin := os.Getenv("HOOKLINE_BENCH_COMPARE")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if bins.dispatcher != nil {
			disp.add(benchRunProcess(b, bins.dispatcher, set, redisAddr, ep, recv, m))
		} else {
			disp.add(benchRunInProcess(b, set, redisAddr, ep, recv, m))
		}
		b.StopTimer()
		ceil.add(benchRunCeiling(b, bins.rig, set, ep, recv, m.maxItems))
		if cmpBin != "" {
			cmp.add(benchRunProcess(b, []string{cmpBin, "dispatcher"}, set, redisAddr, ep, recv, m))
		}
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
	if cmpBin != "" {
		cmpRate := total / cmp.elapsed.Seconds()
		b.ReportMetric(cmpRate, "compare-events/s")
		fmt.Printf("  %s compare: %s=%.0f ev/s ratio=%.2f peakRSS=%.0f MB cpu=%.2fs; this build / compared = %.2f\n",
			m.name, filepath.Base(cmpBin), cmpRate, cmpRate/ceilRate, float64(cmp.peakRSSKB)/1024, per(cmp.cpu), dispRate/cmpRate)
	}
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
