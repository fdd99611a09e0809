package dispatcher_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
)

// newTrickleReceiver is a manyReceiver whose endpoints answer 200 at once,
// after verifying and counting the delivery as the others do, and then hold
// the request open: the status and headers go out, then one body byte every
// every, until limit from the request's arrival or until the client hangs
// up. It stops at the benchmark's end.
func newTrickleReceiver(b *testing.B, n int, every, limit time.Duration) (*manyReceiver, []string) {
	b.Helper()
	r := &manyReceiver{secret: []byte(benchSecret), hdr: signing.HeadersFor(benchHeaderPfx), status: http.StatusOK,
		seen: map[string]struct{}{}}
	r.srv = &http.Server{Handler: trickler{r: r, every: every, limit: limit}, ReadHeaderTimeout: time.Minute}
	b.Cleanup(func() { _ = r.srv.Close() })
	return r, manyListen(b, n, "trickle", func(ln net.Listener) { _ = r.srv.Serve(ln) })
}

// trickler is the handler of newTrickleReceiver.
type trickler struct {
	r            *manyReceiver
	every, limit time.Duration
}

func (t trickler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	began := time.Now()
	t.r.ServeHTTP(w, req) // reads, verifies, counts and sets the status
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for time.Since(began) < t.limit {
		select {
		case <-req.Context().Done():
			return
		case <-tick.C:
		}
		if _, err := w.Write([]byte{'.'}); err != nil || rc.Flush() != nil {
			return
		}
	}
}

// waitUntil waits until r counted want events, r rejected a delivery, or
// deadline.
func (r *manyReceiver) waitUntil(want int64, deadline time.Time) {
	for r.events.Load() < want && time.Now().Before(deadline) && r.problem.Load() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// slowStream is a set of tenants published to round robin, rate events/s
// over them all.
type slowStream struct {
	tenants []string
	rate    float64
}

// slowPublish publishes each stream at its rate for d, interleaved, and
// returns how many events each got. Each event's createdUtc is the
// producer's clock when published.
func slowPublish(b *testing.B, k testbackend.Kafka, topic string, streams []slowStream, d time.Duration) []int {
	b.Helper()
	pub := manyPublisher(b, k, topic)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sent := make([]int, len(streams))
	for start := time.Now(); time.Since(start) < d; <-tick.C {
		at := time.Since(start).Seconds()
		for i, s := range streams {
			for due := int(s.rate * at); sent[i] < due; sent[i]++ {
				pub.publish(s.tenants[sent[i]%len(s.tenants)])
			}
		}
	}
	pub.close(b)
	return sent
}

// slowOutcome sums, over tiers, a figure of the detail that manyProc.sample
// returns ("deliveries.deferred=12 ..."); 0 when absent.
func slowOutcome(detail, name string) int64 {
	var n float64
	for _, f := range strings.Fields(detail) {
		if k, v, ok := strings.Cut(f, "="); ok && k == name {
			x, _ := strconv.ParseFloat(v, 64)
			n += x
		}
	}
	return int64(n)
}

// slowStop ends the dispatcher with SIGTERM and waits for its drain, at
// most a minute (then kills it). It says how the stop went rather than
// failing the benchmark: the figures were taken before.
func slowStop(b *testing.B, p *manyProc) string {
	b.Helper()
	began := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var out string
	select {
	case err := <-p.exited:
		out = fmt.Sprintf("drained in %s", time.Since(began).Round(10*time.Millisecond))
		if err != nil {
			out = fmt.Sprintf("stopped after %s: %v", time.Since(began).Round(10*time.Millisecond), err)
		}
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		out = "not drained within a minute of SIGTERM: killed"
	}
	p.stopped = true
	s := p.stderr.String()
	if strings.Contains(s, `"level":"error"`) || os.Getenv("HOOKLINE_BENCH_VERBOSE") == "1" && s != "" {
		b.Logf("dispatcher stderr:\n%s", s)
	}
	return out
}

// slowEnv is the positive number in the environment variable name, or def.
func slowEnv(b *testing.B, name string, def float64) float64 {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}
