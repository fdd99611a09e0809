package dispatcher_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

func benchEndpointsFile(b *testing.B, ep *endpoints.Endpoint, registered int) string {
	b.Helper()
	raw, err := json.Marshal(map[string]any{"endpoints": benchEndpoints(ep, registered)})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "endpoints.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchEndpoints registers ep among registered endpoints in all: of the
// first 100, the rest are the bench tenant's and want other event types
// (each record is matched against them and sent to none); the others
// belong to other tenants.
func benchEndpoints(ep *endpoints.Endpoint, registered int) []*endpoints.Endpoint {
	eps := []*endpoints.Endpoint{ep}
	for i := 1; i < registered; i++ {
		tenant, types := benchTenant, []string{"zz.never_sent"}
		if i >= 100 {
			tenant, types = fmt.Sprintf("t-other-%d", i%1000), nil
		}
		eps = append(eps, &endpoints.Endpoint{ID: fmt.Sprintf("ep-%d", i), TenantID: tenant, URL: ep.URL + "/other",
			Secrets: ep.Secrets, EventTypes: types})
	}
	return eps
}

// benchRunProcess runs the dispatcher command until the receiver has every
// event, reads its peak RSS and CPU time, and stops it with SIGTERM.
func benchRunProcess(b *testing.B, command []string, set *benchEvents, redisURL string, ep *endpoints.Endpoint,
	recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	epFile := benchEndpointsFile(b, ep, m.registered)
	group := testbackend.UniqueName(b)
	args := append(command[1:len(command):len(command)],
		"--brokers", strings.Join(set.k.Brokers, ","), "--events-topic", set.topic, "--group", group,
		"--endpoints", epFile, "--redis-url", redisURL, "--allow-networks", "127.0.0.0/8",
		"--concurrency", strconv.Itoa(m.inflight))
	if prof := os.Getenv("HOOKLINE_BENCH_CPUPROFILE"); prof != "" {
		args = append(args, "--cpuprofile", benchProfilePath(prof, m))
	} else {
		args = append(args, "--allow-http", "--retry-schedule", "1m", "--log-level", "warn")
	}
	cmd := exec.Command(command[0], args...)
	// The ops endpoints on a port of their own, as a dispatcher already
	// serving on the default one would take it (by environment, which
	// builds older than the flag ignore).
	cmd.Env = append(os.Environ(), "HOOKLINE_OPS_ADDR=127.0.0.1:0")
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
	elapsed := rd.wait(b, "dispatch "+m.label(), exited)
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
	rd.check(b, "dispatch "+m.label())
	if s := stderr.String(); strings.Contains(s, `"level":"warn"`) || strings.Contains(s, `"level":"error"`) {
		b.Logf("dispatcher warnings:\n%s", s)
	}
	r := rd.result(elapsed)
	r.peakRSSKB, r.cpu, r.rigCPU = rss, cpu, rigCPU
	return r
}

// benchRunInProcess runs a Dispatcher in the test binary (for profiling).
func benchRunInProcess(b *testing.B, set *benchEvents, redisURL string, ep *endpoints.Endpoint,
	recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	name := testbackend.UniqueName(b)
	eps, err := endpoints.NewSet(benchEndpoints(ep, m.registered)...)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	d, err := dispatcher.New(dispatcher.Config{
		Brokers: set.k.Brokers, Group: name,
		Topics:    kafka.Topics{Events: set.topic, Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead"},
		Retry:     retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{time.Minute}},
		Endpoints: eps, Redis: rdb, Concurrency: m.inflight,
		Sender: delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	})
	if err != nil {
		b.Fatal(err)
	}
	var prof *os.File
	if path := os.Getenv("HOOKLINE_BENCH_CPUPROFILE"); path != "" {
		if prof, err = os.Create(benchProfilePath(path, m)); err != nil {
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
	elapsed := rd.wait(b, "dispatch "+m.label(), exited)
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
	rd.check(b, "dispatch "+m.label())
	if st.Deferred+st.Retried+st.Dead+st.Invalid > 0 {
		b.Fatalf("dispatcher stats %+v: every delivery should have gone straight through", st)
	}
	r := rd.result(elapsed)
	r.rigCPU = rigCPU
	return r
}

// benchProfilePath is where HOOKLINE_BENCH_CPUPROFILE=base puts the
// profile of one sub-benchmark.
func benchProfilePath(base string, m benchMode) string {
	return base + "." + m.name + ".c" + strconv.Itoa(m.inflight)
}

// benchRunCeiling runs `benchrig ceiling` over the same events with
// m.inflight requests in flight, timing from its start signal (events
// already loaded) until the receiver has them all.
func benchRunCeiling(b *testing.B, rig string, set *benchEvents, ep *endpoints.Endpoint, recv *benchReceiver, m benchMode) benchResult {
	b.Helper()
	cmd := exec.Command(rig, "ceiling", "--url", ep.URL, "--secret", ep.Secrets[0], "--items", strconv.Itoa(m.maxItems),
		"--inflight", strconv.Itoa(m.inflight), "--events", set.file, "--header-prefix", benchHeaderPfx)
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
	elapsed := rd.wait(b, "ceiling "+m.label(), exited)
	rigCPU := benchSelfCPU() - rig0
	expect("done")
	_, cpu1, err := benchProcStats(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	rd.check(b, "ceiling "+m.label())
	r := rd.result(elapsed)
	r.cpu, r.rigCPU = cpu1-cpu0, rigCPU
	return r
}

// benchMachine describes what the figures were measured on, since they
// compare only within one machine and one set of backends: cores,
// platform, CPU model and the Redis in use, long (version and address) for
// the header and short for each summary line.
func benchMachine(b *testing.B) (machine, redisLong, redisShort string) {
	b.Helper()
	machine = fmt.Sprintf("NumCPU=%d GOMAXPROCS=%d %s/%s %s", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.GOOS, runtime.GOARCH, runtime.Version())
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if model := benchInfoField(string(raw), "model name"); model != "" {
			machine += " CPU " + strconv.Quote(model)
		}
	}
	url := os.Getenv(testbackend.EnvRedis)
	if url == "" {
		return machine, "miniredis (in-process)", "miniredis"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatalf("%s=%q: %v", testbackend.EnvRedis, url, err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		b.Fatalf("%s=%q: INFO server: %v", testbackend.EnvRedis, url, err)
	}
	server := "redis " + benchInfoField(info, "redis_version")
	if v := benchInfoField(info, "valkey_version"); v != "" {
		server = "valkey " + v
	}
	return machine, fmt.Sprintf("%s at %s db %d", server, opts.Addr, opts.DB), server
}

// benchInfoField is the value of the first "key:value" line of text whose
// key, trimmed, is key (/proc/cpuinfo and Redis INFO are both laid out so).
func benchInfoField(text, key string) string {
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// benchKafka is the broker a benchmark runs on: the Kafka of
// HOOKLINE_TEST_KAFKA when set, else an in-process kfake (whose CPU the
// test binary's figure then includes).
func benchKafka(b *testing.B) testbackend.Kafka {
	b.Helper()
	if brokers := os.Getenv(testbackend.EnvKafka); brokers != "" {
		return testbackend.Kafka{Name: "kafka", Brokers: strings.Split(brokers, ",")}
	}
	return testbackend.NewFake(b)
}

// benchKafkaName names the broker benchKafka gives.
func benchKafkaName() string {
	if brokers := os.Getenv(testbackend.EnvKafka); brokers != "" {
		return "Apache Kafka at " + brokers + " (" + testbackend.EnvKafka + "; its CPU is not in rig-cpu-s)"
	}
	name := "kfake"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/twmb/franz-go/pkg/kfake" {
				name += " " + dep.Version
			}
		}
	}
	return name + " (in-process)"
}

// benchDeleteTopics deletes names at the benchmark's end when k is a real
// cluster, so runs leave nothing behind (a kfake goes with its topics).
func benchDeleteTopics(b *testing.B, k testbackend.Kafka, names ...string) {
	if k.Fake != nil {
		return
	}
	adm := k.Admin(b)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			b.Logf("delete topics %v: %v", names, err)
		}
	})
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
