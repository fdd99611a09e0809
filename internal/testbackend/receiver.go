package testbackend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Post is one request a Receiver got.
type Post struct {
	Header http.Header
	Body   []byte
	At     time.Time
	Status int
	// Remote is the client's address: one per connection, so posts of
	// one sender process share none with another's.
	Remote string
}

// Receiver is a webhook endpoint for tests that checks every request as a
// receiver of the default scheme does, written from the rule alone, not
// from hookline's signing code: sha256=<hex HMAC-SHA256 of the raw body
// keyed with the secret>, compared in constant time; the delivery id is 12
// bytes in hex; the timestamp is ISO 8601 UTC.
type Receiver struct {
	t      *testing.T
	prefix string
	secret []byte
	srv    *httptest.Server

	mu     sync.Mutex
	posts  []Post
	bad    []string
	status func(n int) int // status for the n-th request (0-based); nil: 204
	// failFirst posts of each delivery id get failStatus.
	failFirst, failStatus int
	retryAfter            string
	seen                  map[string]int
	delay                 time.Duration
	// trickle, when set, sends the status at once, then a byte of body
	// every trickle until trickleFor has passed.
	trickle, trickleFor time.Duration
}

var deliveryIDRe = regexp.MustCompile(`^[0-9a-f]{24}$`)

// NewReceiver serves until the test ends, verifying with secret and the
// headers of prefix (e.g. "X-Hookline").
func NewReceiver(t *testing.T, prefix, secret string) *Receiver {
	s := &Receiver{t: t, prefix: prefix, secret: []byte(secret)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	mac := hmac.New(sha256.New, secret)
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
	id := r.Header.Get(s.prefix + "-Delivery")
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	if s.seen[id] < s.failFirst {
		status = s.failStatus
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
	}
	s.seen[id]++
	if problem != "" {
		s.bad = append(s.bad, problem)
		status = http.StatusUnauthorized
	}
	s.posts = append(s.posts, Post{Header: r.Header.Clone(), Body: body, At: time.Now(), Status: status, Remote: r.RemoteAddr})
	delay, trickle, trickleFor := s.delay, s.trickle, s.trickleFor
	s.mu.Unlock()
	if trickle > 0 {
		w.WriteHeader(status)
		end := time.Now().Add(trickleFor)
		for time.Now().Before(end) {
			if _, err := w.Write([]byte{' '}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(trickle):
			case <-r.Context().Done():
				return
			}
		}
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

// URL is the receiver's base URL.
func (s *Receiver) URL() string { return s.srv.URL }

// SetSecret verifies the posts that follow with secret, as a receiver
// does once its endpoint's secret was changed.
func (s *Receiver) SetSecret(secret string) {
	s.mu.Lock()
	s.secret = []byte(secret)
	s.mu.Unlock()
}

// SetStatus decides the status of the n-th request (0-based); nil: 204.
func (s *Receiver) SetStatus(f func(n int) int) {
	s.mu.Lock()
	s.status = f
	s.mu.Unlock()
}

// FailFirst answers status to the first n posts of every delivery id (and
// retryAfter, if not empty, as Retry-After), then 204.
func (s *Receiver) FailFirst(n, status int, retryAfter string) {
	s.mu.Lock()
	s.failFirst, s.failStatus, s.retryAfter = n, status, retryAfter
	s.mu.Unlock()
}

// SetDelay holds every answer this long (until the client gives up).
func (s *Receiver) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetTrickle answers every request's status at once, then its body a byte
// every interval for total: a receiver that has answered but holds its
// connection.
func (s *Receiver) SetTrickle(interval, total time.Duration) {
	s.mu.Lock()
	s.trickle, s.trickleFor = interval, total
	s.mu.Unlock()
}

// Snapshot returns the posts so far and the verification problems.
func (s *Receiver) Snapshot() ([]Post, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...), append([]string(nil), s.bad...)
}

// Events decodes the envelopes of a body (one object or an array).
func Events(t *testing.T, body []byte) []map[string]any {
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

// Delivered waits until the 2xx posts of s carry n events, and returns the
// eventIds with how often each arrived.
func (s *Receiver) Delivered(t *testing.T, n int, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		posts, bad := s.Snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver rejected deliveries: %v", bad)
		}
		seen := map[string]int{}
		total := 0
		for _, p := range posts {
			if p.Status/100 != 2 {
				continue
			}
			for _, e := range Events(t, p.Body) {
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
