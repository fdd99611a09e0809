package dispatcher_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

const secret = "whsec-test-secret-0123456789"

// post is one request a sink received.
type post struct {
	header http.Header
	body   []byte
	at     time.Time
	status int
}

// sink is a receiver that checks every request the way seed 000 tells
// receivers to, written from that text alone: sha256=<hex HMAC-SHA256 of the
// raw body keyed with the secret>, compared in constant time; the delivery id
// is 12 bytes in hex; the timestamp is ISO 8601 UTC.
type sink struct {
	t      *testing.T
	prefix string
	srv    *httptest.Server

	mu     sync.Mutex
	posts  []post
	bad    []string
	status func(n int) int // status for the n-th request (0-based); nil: 204
	delay  time.Duration
}

var deliveryIDRe = regexp.MustCompile(`^[0-9a-f]{24}$`)

func newSink(t *testing.T, prefix string) *sink {
	s := &sink{t: t, prefix: prefix}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var problem string
	switch {
	case !hmac.Equal([]byte(r.Header.Get(s.prefix+"-Signature")), []byte(want)):
		problem = "signature mismatch"
	case !deliveryIDRe.MatchString(r.Header.Get(s.prefix + "-Delivery")):
		problem = "delivery id " + r.Header.Get(s.prefix+"-Delivery")
	case r.Header.Get("Content-Type") != "application/json":
		problem = "content type " + r.Header.Get("Content-Type")
	case r.Method != http.MethodPost:
		problem = "method " + r.Method
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Header.Get(s.prefix+"-Timestamp")); err != nil && problem == "" {
		problem = "timestamp " + r.Header.Get(s.prefix+"-Timestamp")
	}
	s.mu.Lock()
	n := len(s.posts)
	status := http.StatusNoContent
	if s.status != nil {
		status = s.status(n)
	}
	if problem != "" {
		s.bad = append(s.bad, problem)
		status = http.StatusUnauthorized
	}
	s.posts = append(s.posts, post{header: r.Header.Clone(), body: body, at: time.Now(), status: status})
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

// snapshot returns the posts so far and the verification problems.
func (s *sink) snapshot() ([]post, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]post(nil), s.posts...), append([]string(nil), s.bad...)
}

// events decodes the envelopes of a body (one object or an array).
func events(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	if len(body) > 0 && body[0] == '[' {
		var out []map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("batch body is not a JSON array: %v", err)
		}
		return out
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not a JSON envelope: %v", err)
	}
	return []map[string]any{e}
}

// delivered waits until the 2xx posts of s carry n events, and returns the
// eventIds with how often each arrived.
func (s *sink) delivered(t *testing.T, n int, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		posts, bad := s.snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver rejected deliveries: %v", bad)
		}
		seen := map[string]int{}
		total := 0
		for _, p := range posts {
			if p.status/100 != 2 {
				continue
			}
			for _, e := range events(t, p.body) {
				seen[e["eventId"].(string)]++
				total++
			}
		}
		if total >= n || time.Now().After(deadline) {
			if total < n {
				t.Fatalf("received %d events in %d posts, want %d", total, len(posts), n)
			}
			return seen
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fixture is a dispatcher on one backend with its own topics and group.
type fixture struct {
	b      testbackend.Backend
	topics kafka.Topics
	prod   *producer.Producer
	set    *endpoints.Set
	d      *dispatcher.Dispatcher
	cfg    dispatcher.Config
	kill   func() // stops the current member abruptly: no drain, no commit
}

func endpointFor(id, tenant string, s *sink, mod func(*endpoints.Endpoint)) *endpoints.Endpoint {
	ep := &endpoints.Endpoint{ID: id, TenantID: tenant, URL: s.srv.URL + "/hooks/" + id, Secrets: []string{secret}}
	if mod != nil {
		mod(ep)
	}
	return ep
}

func newFixture(t *testing.T, b testbackend.Backend, eps []*endpoints.Endpoint, mod func(*dispatcher.Config)) *fixture {
	t.Helper()
	name := testbackend.UniqueName(t)
	f := &fixture{b: b}
	f.topics = kafka.Topics{
		Events: b.Topic(t, 3), Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead",
		RetryPrefix: name + ".retry.", Retry: []time.Duration{time.Minute},
	}
	var err error
	if f.set, err = endpoints.NewSet(eps...); err != nil {
		t.Fatal(err)
	}
	if f.prod, err = producer.New(producer.Config{Brokers: b.Brokers, Topic: f.topics.Events}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.prod.Close(context.Background()) })
	f.cfg = dispatcher.Config{
		Brokers: b.Brokers, Group: name, Topics: f.topics, Endpoints: f.set, Redis: b.Redis, RedisPrefix: b.RedisPrefix,
		Sender:         delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		CommitInterval: 100 * time.Millisecond,
	}
	if mod != nil {
		mod(&f.cfg)
	}
	f.start(t)
	return f
}

// start runs a dispatcher member until the test ends.
func (f *fixture) start(t *testing.T) *dispatcher.Dispatcher {
	t.Helper()
	d, err := dispatcher.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- d.Run(ctx) }()
	killed := false
	f.kill = func() {
		killed = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(func() {
		if killed {
			return
		}
		defer cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return d
}

// publish sends events and returns their ids and record values in order.
func (f *fixture) publish(t *testing.T, evs ...producer.Event) []string {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		res, err := f.prod.Publish(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.EventID
	}
	return ids
}

// read returns n records of topic.
func (f *fixture) read(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	recs := f.b.ReadAll(t, topic, n, 20*time.Second)
	if len(recs) < n {
		t.Fatalf("%s holds %d records, want %d", topic, len(recs), n)
	}
	return recs
}

func taskEvent(tenant, id, status string) producer.Event {
	return producer.Event{Type: "task.created", TenantID: tenant,
		Data: map[string]any{"task": map[string]any{"id": id, "title": "Ducts " + id, "status": status}}}
}

func kgoRecord(topic string, v []byte) *kgo.Record { return &kgo.Record{Topic: topic, Value: v} }
