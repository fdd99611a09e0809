package dispatcher_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

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

// benchPreload makes a topic (benchKafka), writes n catalog events of one tenant
// through the producer (as many publishers as CPUs, for speed), and reads
// the records back into the ceiling's events file. With headerless, the
// producer writes to a staging topic and the records are copied to the
// bench topic as another Kafka client would write them: the same keys,
// values and partitions, and no headers.
func benchPreload(b *testing.B, n int, headerless bool) *benchEvents {
	b.Helper()
	start := time.Now()
	k := benchKafka(b)
	topic := k.Topic(b, benchPartitions)
	written := topic
	if headerless {
		written = k.Topic(b, benchPartitions)
	}
	benchDeleteTopics(b, k, topic, written)
	p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: written})
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(written),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(32<<20),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, benchWait)
	defer cancel()
	total := 0
	var copyWG sync.WaitGroup
	copied := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
		}
		copyWG.Done()
	}
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
			if headerless {
				copyWG.Add(1)
				cl.Produce(rctx, &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value}, copied)
			}
			set.sizes = append(set.sizes, int32(len(r.Value)))
			total += len(r.Value)
		})
	}
	copyWG.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d copies failed; first: %v", f, n, *firstErr.Load())
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if set.n() != n {
		b.Fatalf("topic holds %d records, want %d", set.n(), n)
	}
	b.Logf("preloaded %d events (%d bytes, %.0f B avg, headerless %v) into %d partitions in %s",
		n, total, float64(total)/float64(n), headerless, benchPartitions, time.Since(start).Round(time.Millisecond))
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
