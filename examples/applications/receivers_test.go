package examples

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// post is one request a receiver got and what its contract made of it.
type post struct {
	header http.Header
	body   []byte
	at     time.Time
	ids    []string
	err    error // nil: verified
	status int   // 0: the sender gave up before the answer
	// cut is how long after its arrival the sender gave the request up
	// (its timeout); 0 when it was answered.
	cut time.Duration
}

// answer decides a verified request's status and how long the receiver
// holds it first, from how many earlier requests carried its delivery id.
type answer func(attempt int) (status int, hold time.Duration)

// receiver is one product's webhook endpoint: it checks every request
// with its product's contract, answers 401 to a bad signature and 400 to
// a body out of contract, as the documents' handlers do, and otherwise
// what answer says (200 at once by default).
type receiver struct {
	c   contract
	srv *httptest.Server

	mu       sync.Mutex
	posts    []post
	attempts map[string]int // by delivery id
	answer   answer
}

func newReceiver(t *testing.T, c contract) *receiver {
	rc := &receiver{c: c, attempts: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// URL is the receiver's address.
func (rc *receiver) URL() string { return rc.srv.URL + "/webhooks/" + rc.c.product }

// setAnswer replaces how verified requests are answered.
func (rc *receiver) setAnswer(a answer) {
	rc.mu.Lock()
	rc.answer = a
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(r.Body)
	ids, err := rc.c.check(r, body)
	p := post{header: r.Header.Clone(), body: body, at: arrived, ids: ids, err: err, status: http.StatusOK}
	var hold time.Duration
	rc.mu.Lock()
	key := r.Header.Get(rc.c.prefix + "-Delivery")
	attempt := rc.attempts[key]
	rc.attempts[key]++
	switch {
	case errors.Is(err, errSignature):
		p.status = http.StatusUnauthorized
	case err != nil:
		p.status = http.StatusBadRequest
	case rc.answer != nil:
		p.status, hold = rc.answer(attempt)
	}
	i := len(rc.posts)
	rc.posts = append(rc.posts, p)
	rc.mu.Unlock()
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			// The sender closed the connection: its timeout ran out.
			rc.mu.Lock()
			rc.posts[i].status, rc.posts[i].cut = 0, time.Since(arrived)
			rc.mu.Unlock()
			return
		}
	}
	w.WriteHeader(p.status)
}

// snapshot returns the requests so far.
func (rc *receiver) snapshot() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// accepted returns the verified requests answered 2xx so far.
func (rc *receiver) accepted() []post {
	var out []post
	for _, p := range rc.snapshot() {
		if p.err == nil && p.status/100 == 2 {
			out = append(out, p)
		}
	}
	return out
}

// wait polls until cond holds of the requests so far, failing the test
// after timeout with what arrived.
func (rc *receiver) wait(t *testing.T, timeout time.Duration, what string, cond func([]post) bool) []post {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ps := rc.snapshot()
		if cond(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			for _, p := range ps {
				t.Logf("%s got status %d ids %v err %v", rc.c.product, p.status, p.ids, p.err)
			}
			t.Fatalf("%s: %s: not so after %s (%d requests)", rc.c.product, what, timeout, len(ps))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEvents waits until the accepted requests carry n events, and
// returns those requests; a request that failed its contract fails the
// test at once.
func (rc *receiver) waitEvents(t *testing.T, n int, timeout time.Duration) []post {
	t.Helper()
	rc.wait(t, timeout, "events accepted", func(ps []post) bool {
		got := 0
		for _, p := range ps {
			if p.err != nil {
				t.Fatalf("%s refused a request: %v\n%s\n%s", rc.c.product, p.err, headerLines(p.header), p.body)
			}
			if p.status/100 == 2 {
				got += len(p.ids)
			}
		}
		return got >= n
	})
	return rc.accepted()
}

func headerLines(h http.Header) string {
	var b []byte
	for k, v := range h {
		for _, x := range v {
			b = append(b, k+": "+x+"\n"...)
		}
	}
	return string(b)
}

// randomSecret is a signing secret or token of 32 random hex characters.
func randomSecret(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// tokenServer is the OAuth 2.0 authorization server of a Momentus
// receiver: it issues bearer tokens for the client credentials grant to
// one client, and the receiver accepts only tokens it issued.
type tokenServer struct {
	srv                    *httptest.Server
	clientID, clientSecret string

	mu       sync.Mutex
	issued   map[string]bool
	requests int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{clientID: randomSecret("client-"), clientSecret: randomSecret("cs-"), issued: map[string]bool{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)
	return ts
}

// TokenURL is the token endpoint.
func (ts *tokenServer) TokenURL() string { return ts.srv.URL + "/oauth/token" }

// serve answers a token request (RFC 6749 §4.4): client authentication
// by HTTP Basic (§2.3.1) or in the form, grant_type client_credentials.
func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	ts.requests++
	ts.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	case subtle.ConstantTimeCompare([]byte(id), []byte(ts.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(ts.clientSecret)) != 1:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	tok := randomSecret("at-")
	ts.mu.Lock()
	ts.issued[tok] = true
	ts.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// valid reports whether the server issued token.
func (ts *tokenServer) valid(token string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued[token]
}

// tokenRequests counts the token requests made.
func (ts *tokenServer) tokenRequests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests
}
