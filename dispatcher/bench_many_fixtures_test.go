package dispatcher_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
)

// manyReceiver is the webhook side of many endpoints. Each endpoint has a
// listener of its own, as distinct hosts would: the dispatcher bounds
// connections per host, so endpoints sharing one port would contend for
// connections that real ones never share. One http.Server serves them all;
// the path names the endpoint.
//
// With status 2xx it verifies every request as benchReceiver does
// (signature, headers, body shape, batch size against the body) and
// records, per event, the time from its createdUtc (stamped by the
// producer at publish, to the millisecond) to its receipt. With another
// status it reads the request and answers that, counting posts only.
type manyReceiver struct {
	secret []byte
	hdr    signing.Headers
	status int
	delay  time.Duration // before answering
	srv    *http.Server

	posts, events atomic.Int64
	problem       atomic.Pointer[string]
	turns         manyTurns

	mu sync.Mutex
	// samples are per distinct event; seen holds endpoint path + eventId,
	// so a duplicate shows as dups.
	samples []struct{ created, received time.Time }
	seen    map[string]struct{}
	dups    int
	first   time.Time
	last    time.Time
}

// newManyReceiver listens on n ports of 127.0.0.1 and returns the receiver
// and the endpoints' URLs. It stops at the benchmark's end.
func newManyReceiver(b *testing.B, n, status int, delay time.Duration) (*manyReceiver, []string) {
	b.Helper()
	r := &manyReceiver{secret: []byte(benchSecret), hdr: signing.HeadersFor(benchHeaderPfx), status: status, delay: delay,
		seen: map[string]struct{}{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: time.Minute}
	b.Cleanup(func() { _ = r.srv.Close() })
	return r, manyListen(b, n, "ep", func(ln net.Listener) { _ = r.srv.Serve(ln) })
}

// manyListen opens n listeners on 127.0.0.1, serves each in a goroutine
// of its own, and returns their URLs, /<path>/<i>.
func manyListen(b *testing.B, n int, path string, serve func(net.Listener)) []string {
	b.Helper()
	urls := make([]string, n)
	for i := range urls {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatalf("listener %d of %d: %v", i, n, err)
		}
		go serve(ln)
		urls[i] = fmt.Sprintf("http://%s/%s/%d", ln.Addr(), path, i)
	}
	return urls
}

func (r *manyReceiver) fail(msg string) { r.problem.CompareAndSwap(nil, &msg) }

func (r *manyReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	began := time.Now()
	r.turns.begin(req.RemoteAddr, began)
	body, err := io.ReadAll(req.Body)
	now := time.Now()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	defer func() { r.turns.end(req.RemoteAddr, began, time.Now()) }()
	r.posts.Add(1)
	if r.status/100 != 2 {
		w.WriteHeader(r.status)
		return
	}
	if err != nil {
		r.fail("read body: " + err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	evs, problem := r.verify(req, body)
	if problem != "" {
		r.fail(req.URL.Path + ": " + problem)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.record(req.URL.Path, evs, now)
	w.WriteHeader(r.status)
}

// manyEvent is what the receiver reads of an envelope.
type manyEvent struct {
	EventID    string `json:"eventId"`
	CreatedUTC string `json:"createdUtc"`
}

// verify checks a delivery as benchReceiver does and decodes its events.
func (r *manyReceiver) verify(req *http.Request, body []byte) ([]manyEvent, string) {
	mac := hmac.New(sha256.New, r.secret)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	switch {
	case !hmac.Equal([]byte(req.Header.Get(r.hdr.Signature)), []byte(want)):
		return nil, "signature mismatch"
	case len(req.Header.Get(r.hdr.Delivery)) != 24 || req.Header.Get(r.hdr.Timestamp) == "" || req.Header.Get(r.hdr.Event) == "":
		return nil, "missing delivery id, timestamp or event header"
	case len(body) < 2:
		return nil, "empty body"
	}
	var evs []manyEvent
	size := req.Header.Get(r.hdr.BatchSize)
	if size == "" {
		if body[0] != '{' || json.Unmarshal([]byte("["+string(body)+"]"), &evs) != nil || len(evs) != 1 {
			return nil, "single-event body is not one JSON object"
		}
		return evs, ""
	}
	if body[0] != '[' || json.Unmarshal(body, &evs) != nil {
		return nil, "batch body is not a JSON array of objects"
	}
	if n, err := strconv.Atoi(size); err != nil || n != len(evs) {
		return nil, fmt.Sprintf("batch size header %q for %d events", size, len(evs))
	}
	return evs, ""
}

func (r *manyReceiver) record(path string, evs []manyEvent, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		created, err := time.Parse(envelope.TimeLayout, ev.CreatedUTC)
		if err != nil {
			r.fail(fmt.Sprintf("event %s: createdUtc %q: %v", ev.EventID, ev.CreatedUTC, err))
			continue
		}
		key := path + " " + ev.EventID
		if _, ok := r.seen[key]; ok {
			r.dups++
			continue
		}
		r.seen[key] = struct{}{}
		r.samples = append(r.samples, struct{ created, received time.Time }{created, now})
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	r.events.Add(int64(len(evs)))
}

// waitFor waits until the receiver counted want events, or until none
// arrived for quiet (the rest went to the retry tier), or benchWait.
func (r *manyReceiver) waitFor(want int64, quiet time.Duration) {
	last, lastAt, deadline := r.events.Load(), time.Now(), time.Now().Add(benchWait)
	for n := last; n < want && time.Now().Before(deadline) && r.problem.Load() == nil; n = r.events.Load() {
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// manyTake is what a receiver counted in one run.
type manyTake struct {
	// all are the latencies of distinct events; late those of events
	// created from the run's lateFrom on.
	all, late   []time.Duration
	first, last time.Time // receipts
	events      int       // counted, duplicates included
	dups        int
}

func (r *manyReceiver) take(lateFrom time.Time) manyTake {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := manyTake{all: make([]time.Duration, 0, len(r.samples)), first: r.first, last: r.last,
		events: int(r.events.Load()), dups: r.dups}
	for _, s := range r.samples {
		t.all = append(t.all, s.received.Sub(s.created))
		if !s.created.Before(lateFrom) {
			t.late = append(t.late, s.received.Sub(s.created))
		}
	}
	return t
}

// manyQuantile is the q-quantile of sorted (nearest rank); 0 when empty.
func manyQuantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// manyBlackHoles are endpoints that accept connections, read what comes
// and never answer, so each delivery to them waits out its timeout.
type manyBlackHoles struct {
	mu     sync.Mutex
	held   []io.Closer // listeners and connections
	closed bool
	open   atomic.Int64 // connections accepted and not yet closed
}

func newManyBlackHoles(b *testing.B, n int) (*manyBlackHoles, []string) {
	b.Helper()
	h := &manyBlackHoles{}
	b.Cleanup(h.close)
	return h, manyListen(b, n, "hole", h.accept)
}

func (h *manyBlackHoles) accept(ln net.Listener) {
	h.hold(ln)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.open.Add(1)
		h.hold(c)
		go func() {
			_, _ = io.Copy(io.Discard, c)
			h.open.Add(-1)
		}()
	}
}

func (h *manyBlackHoles) hold(c io.Closer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		_ = c.Close()
	}
	h.held = append(h.held, c)
}

// close refuses new connections and drops those held, so a stop's drain
// fails its remaining black-hole deliveries at once instead of waiting
// out a timeout for each.
func (h *manyBlackHoles) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, c := range h.held {
		_ = c.Close()
	}
	h.held = nil
}

// manyProc is a dispatcher process.
type manyProc struct {
	cmd     *exec.Cmd
	exited  chan error
	stderr  benchLockedBuffer
	ops     string // its /metrics and /readyz
	started time.Time
	stopped bool
}

// startManyDispatcher runs the dispatcher command over eps (its own
// consumer group and topic prefix) and waits until /readyz says it joined.
// On real Kafka the topics it wrote are deleted at the benchmark's end.
func startManyDispatcher(b *testing.B, bin string, k testbackend.Kafka, topic, redisURL string,
	eps []*endpoints.Endpoint, concurrency int) *manyProc {
	b.Helper()
	raw, err := json.Marshal(map[string]any{"endpoints": eps})
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "endpoints.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	group := testbackend.UniqueName(b)
	if k.Fake == nil {
		manyDeleteTopics(b, k, topic, group+".")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &manyProc{exited: make(chan error, 1), ops: ln.Addr().String()}
	_ = ln.Close()
	p.cmd = exec.Command(bin, "dispatcher", "--brokers", strings.Join(k.Brokers, ","), "--events-topic", topic,
		"--group", group, "--topic-prefix", group+".", "--endpoints", file, "--redis-url", redisURL,
		"--allow-networks", "127.0.0.0/8", "--allow-http", "--retry-schedule", "1m", "--log-level", "warn",
		"--concurrency", strconv.Itoa(concurrency), "--ops-addr", p.ops)
	p.cmd.Stderr = &p.stderr
	if os.Getenv("HOOKLINE_BENCH_VERBOSE") == "1" {
		p.cmd.Stderr = io.MultiWriter(&p.stderr, os.Stderr)
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	b.Cleanup(func() {
		if !p.stopped {
			_ = p.cmd.Process.Kill()
			<-p.exited
			b.Logf("dispatcher stderr:\n%s", p.stderr.String())
		}
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-p.exited:
			p.stopped = true
			b.Fatalf("dispatcher exited before it was ready: %v\n%s", err, p.stderr.String())
		default:
		}
		if resp, err := http.Get("http://" + p.ops + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("dispatcher not ready within a minute\n%s", p.stderr.String())
		}
	}
}

// sample reads the process's peak RSS (kB) and CPU time so far, and its
// settled deliveries and HTTP attempts from /metrics, for the detail line.
func (p *manyProc) sample(b *testing.B) (rssKB int64, cpu time.Duration, outcomes string) {
	b.Helper()
	rssKB, cpu, err := benchProcStats(p.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("dispatcher process stats: %v", err)
	}
	resp, err := http.Get("http://" + p.ops + "/metrics")
	if err != nil {
		b.Fatalf("dispatcher metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatalf("dispatcher metrics: %v", err)
	}
	var out []string
	marks := map[string]float64{} // the mark figures, unlabelled
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(k, "hookline_mark") && !strings.Contains(k, "{") {
			marks[k], _ = strconv.ParseFloat(v, 64)
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		labels, value, _ := strings.Cut(rest, "} ")
		if name != "hookline_deliveries_total" && name != "hookline_attempts_total" || value == "0" {
			continue
		}
		for _, l := range strings.Split(labels, ",") {
			if k, v, _ := strings.Cut(l, "="); k == "code" || k == "outcome" {
				out = append(out, name[len("hookline_"):len(name)-len("_total")]+"."+strings.Trim(v, `"`)+"="+value)
			}
		}
	}
	if n := marks["hookline_mark_wait_seconds_count"]; n > 0 {
		trips := marks["hookline_mark_round_trip_seconds_count"]
		sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)).Round(time.Microsecond) }
		out = append(out, fmt.Sprintf("| marks: slot wait mean=%s, Redis round trip mean=%s, %.2f marks per round trip",
			sec(marks["hookline_mark_wait_seconds_sum"]/n), sec(marks["hookline_mark_round_trip_seconds_sum"]/max(trips, 1)), marks["hookline_marks_total"]/max(trips, 1)))
	}
	return rssKB, cpu, strings.Join(out, " ")
}

// stop ends the process with SIGTERM, as in production, and waits for its
// drain.
func (p *manyProc) stop(b *testing.B) {
	b.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.stopped = true
		if err != nil {
			b.Fatalf("dispatcher stop: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(time.Minute):
		b.Fatalf("dispatcher did not stop within a minute of SIGTERM\n%s", p.stderr.String())
	}
	if s := p.stderr.String(); strings.Contains(s, `"level":"error"`) {
		b.Logf("dispatcher errors:\n%s", s)
	}
}
