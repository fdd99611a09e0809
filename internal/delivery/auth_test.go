package delivery

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/signing"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// checkingReceiver answers 204 when check accepts the request's headers
// (and the signature verifies), else 401; it counts both.
func checkingReceiver(t *testing.T, check func(http.Header) bool) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	var ok, refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		if check(r.Header) && signing.VerifyHex([]byte("whsec-test"), body.Bytes(), r.Header.Get("X-Hookline-Signature")) == nil {
			ok.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		refused.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &ok, &refused
}

func testDelivery() *Delivery {
	return &Delivery{ID: NewID(), EndpointID: "e", EventType: "task.updated", Items: 1, Body: []byte(`{"type":"task.updated"}`)}
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Each static type reaches a receiver that checks it, and the same
// receiver refuses a delivery without the credentials.
func TestStaticAuthReachesCheckingReceiver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		auth  *endpoints.Auth
		check func(http.Header) bool
	}{
		{"header", &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: "tok-123"},
			func(h http.Header) bool { return eq(h.Get("X-MessageSystems-Webhook-Token"), "tok-123") }},
		{"basic", &endpoints.Auth{Type: endpoints.AuthBasic, Username: "hooks", Password: "p@ss:word"},
			func(h http.Header) bool {
				r := http.Request{Header: h}
				u, p, ok := r.BasicAuth()
				return ok && eq(u, "hooks") && eq(p, "p@ss:word")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ok, refused := checkingReceiver(t, tc.check)
			s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: loopback})
			ep := &endpoints.Endpoint{ID: "e-" + tc.name, TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}, Auth: tc.auth}
			if err := ep.Validate(); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if a := s.Send(context.Background(), ep, testDelivery()); a.Status != http.StatusNoContent {
					t.Fatalf("attempt %+v", a)
				}
			}
			bare := *ep
			bare.Auth = nil
			if a := s.Send(context.Background(), &bare, testDelivery()); a.Status != http.StatusUnauthorized {
				t.Fatalf("without credentials: %+v", a)
			}
			if ok.Load() != 3 || refused.Load() != 1 {
				t.Fatalf("receiver accepted %d, refused %d; want 3 and 1", ok.Load(), refused.Load())
			}
		})
	}
}

// An auth header cannot stand in for a signature header: the signature
// is set after it. Validation refuses such names anyway; this is the
// sender's own guard.
func TestAuthHeaderCannotReplaceSignature(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("X-Hookline-Signature")
		w.WriteHeader(204)
	}))
	defer srv.Close()
	s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: loopback})
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"},
		Auth: &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-Hookline-Signature", Value: "forged"}}
	d := testDelivery()
	s.Send(context.Background(), ep, d)
	if want := signing.HexSignature([]byte("whsec-test"), d.Body); got != want {
		t.Fatalf("signature header %q, want %q", got, want)
	}
}

// tokenServer issues "tok-<n>" for the client credentials grant, with
// expires_in from expiresIn, or answers status when it is set.
type tokenServer struct {
	*httptest.Server
	requests  atomic.Int64
	status    atomic.Int64
	expiresIn int
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.requests.Add(1)
		id, secret, ok := r.BasicAuth()
		switch {
		case ts.status.Load() != 0:
			w.WriteHeader(int(ts.status.Load()))
			return
		case !ok || id != "client-1" || secret != "cs-secret-value" || r.PostFormValue("grant_type") != "client_credentials" || r.PostFormValue("scope") != "hooks.write":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "Bearer", "expires_in": ts.expiresIn})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// bearerReceiver accepts the token in valid (swapped by the test).
type bearerReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	valid  map[string]bool
	seen   []string
	status []int
}

func newBearerReceiver(t *testing.T, valid ...string) *bearerReceiver {
	br := &bearerReceiver{valid: map[string]bool{}}
	for _, v := range valid {
		br.valid[v] = true
	}
	br.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		br.mu.Lock()
		code := http.StatusUnauthorized
		if br.valid[tok] {
			code = http.StatusNoContent
		}
		br.seen, br.status = append(br.seen, tok), append(br.status, code)
		br.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(br.Close)
	return br
}

func (br *bearerReceiver) setValid(v ...string) {
	br.mu.Lock()
	defer br.mu.Unlock()
	br.valid = map[string]bool{}
	for _, x := range v {
		br.valid[x] = true
	}
}

func oauthEndpoint(id, url string, ts *tokenServer) *endpoints.Endpoint {
	return &endpoints.Endpoint{ID: id, TenantID: "t", URL: url, Secrets: []string{"whsec-test"},
		Auth: &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: ts.URL + "/oauth/token", ClientID: "client-1", ClientSecret: "cs-secret-value", Scopes: []string{"hooks.write"}}}
}

// clock is a test clock ahead of the wall clock by a settable offset.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// OAuth2: the first request fetches a token, later ones (from two Senders
// and many goroutines) reuse it, an expiring token is replaced, and a 401
// fetches exactly one new token and sends once more.
func TestOAuth2TokenLifecycle(t *testing.T) {
	ts := newTokenServer(t, 3600)
	br := newBearerReceiver(t, "tok-1")
	var clk clock
	tokens := &Tokens{}
	cfg := SenderConfig{AllowHTTP: true, AllowNetworks: loopback, Tokens: tokens, Clock: clk.now}
	s1, s2 := NewSender(cfg), NewSender(cfg)
	ep := oauthEndpoint("e-oauth", br.URL, ts)
	if err := ep.Validate(); err != nil {
		t.Fatal(err)
	}
	send := func(s *Sender) Attempt { return s.Send(context.Background(), ep, testDelivery()) }

	// First token, then cached reuse by 20 concurrent requests on two senders.
	if a := send(s1); a.Status != 204 {
		t.Fatalf("first: %+v", a)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if a := send([]*Sender{s1, s2}[i%2]); a.Status != 204 {
				t.Errorf("cached: %+v", a)
			}
		})
	}
	wg.Wait()
	if n := ts.requests.Load(); n != 1 {
		t.Fatalf("21 deliveries made %d token requests, want 1", n)
	}

	// Expiry: 3600 s tokens are replaced 10 s before they lapse.
	clk.advance(3589 * time.Second)
	if a := send(s2); a.Status != 204 || ts.requests.Load() != 1 {
		t.Fatalf("11 s before expiry: %+v, %d token requests", a, ts.requests.Load())
	}
	br.setValid("tok-2")
	clk.advance(2 * time.Second)
	if a := send(s2); a.Status != 204 || ts.requests.Load() != 2 {
		t.Fatalf("9 s before expiry: %+v, %d token requests (want a new token)", a, ts.requests.Load())
	}

	// The receiver revokes tok-2: one 401, one new token, one retry.
	br.setValid("tok-3")
	before := len(br.seen)
	if a := send(s1); a.Status != 204 || a.Err != nil {
		t.Fatalf("after revocation: %+v", a)
	}
	if n := ts.requests.Load(); n != 3 {
		t.Fatalf("%d token requests after a 401, want 3", n)
	}
	br.mu.Lock()
	seen, status := br.seen[before:], br.status[before:]
	br.mu.Unlock()
	if fmt.Sprint(seen, status) != "[tok-2 tok-3] [401 204]" {
		t.Fatalf("requests after revocation: tokens %v statuses %v, want [tok-2 tok-3] [401 204]", seen, status)
	}

	// A receiver that refuses every token: one refresh, one retry, and
	// the attempt is the retry's 401, retryable.
	br.setValid()
	before = len(br.seen)
	a := send(s1)
	if a.Status != 401 || ts.requests.Load() != 4 || len(br.seen)-before != 2 {
		t.Fatalf("refused token: %+v, %d token requests, %d POSTs (want 401, 4, 2)", a, ts.requests.Load(), len(br.seen)-before)
	}
	if o, _ := Classify(a, RetryAnyFailure); o != Retry {
		t.Fatalf("outcome %s", o)
	}
}

// A token server that fails or is unreachable makes a retryable failure
// naming the token URL and the status, with no POST to the receiver and
// no secret in the reason or the logs.
func TestOAuth2TokenEndpointDown(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	br := newBearerReceiver(t, "tok-1")
	ts := newTokenServer(t, 3600)
	ts.status.Store(http.StatusServiceUnavailable)
	s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: loopback, Tokens: &Tokens{}, Logger: zap.New(core)})
	ep := oauthEndpoint("e-down", br.URL, ts)

	a := s.Send(context.Background(), ep, testDelivery())
	o, reason := Classify(a, RetryServerErrors)
	want := "oauth2 token endpoint " + ts.URL + "/oauth/token: 503"
	if o != Retry || reason != want || !errors.Is(a.Err, ErrTokenEndpoint) {
		t.Fatalf("outcome %s %q, want retry %q", o, reason, want)
	}

	ts.Close() // unreachable now
	a = s.Send(context.Background(), ep, testDelivery())
	o, reason = Classify(a, RetryServerErrors)
	if o != Retry || !strings.HasPrefix(reason, "oauth2 token endpoint "+ts.URL+"/oauth/token: ") {
		t.Fatalf("unreachable: outcome %s %q", o, reason)
	}

	// Wrong credentials: the server's error code, never the secret.
	ts2 := newTokenServer(t, 3600)
	bad := oauthEndpoint("e-bad", br.URL, ts2)
	bad.Auth.ClientSecret = "wrong-secret-value"
	a = s.Send(context.Background(), bad, testDelivery())
	if _, reason = Classify(a, RetryAnyFailure); reason != "oauth2 token endpoint "+ts2.URL+"/oauth/token: 401 invalid_client" {
		t.Fatalf("bad credentials: %q", reason)
	}
	if len(br.seen) != 0 {
		t.Fatalf("the receiver got %d POSTs without a token", len(br.seen))
	}
	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		if strings.Contains(line, "cs-secret-value") || strings.Contains(line, "wrong-secret-value") {
			t.Fatalf("secret in log: %s", line)
		}
	}
}

// A token URL on a network the sender may not reach is refused at dial
// time, like an endpoint URL, and the delivery is dead (no retry helps).
func TestOAuth2TokenURLObeysNetworkRules(t *testing.T) {
	ts := newTokenServer(t, 3600)
	br := newBearerReceiver(t, "tok-1")
	s := NewSender(SenderConfig{AllowHTTP: true, Tokens: &Tokens{}}) // loopback not allowed
	a := s.Send(context.Background(), oauthEndpoint("e-ssrf", br.URL, ts), testDelivery())
	if o, reason := Classify(a, RetryAnyFailure); o != Dead || !strings.Contains(reason, "oauth2 token endpoint") {
		t.Fatalf("outcome %s %q, want dead naming the token endpoint", o, reason)
	}
	if ts.requests.Load() != 0 {
		t.Fatal("the token server was reached")
	}
}

// TestTokenClientsOfIdleEndpointsAreDropped: the token cache does not keep
// a client per endpoint ever seen. Once it has grown past a sweep's size,
// clients unused for an hour (deleted endpoints) go, and one in use stays
// with its token.
func TestTokenClientsOfIdleEndpointsAreDropped(t *testing.T) {
	var tokens Tokens
	auth := &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "c", ClientSecret: "s"}
	ep := func(i int) *endpoints.Endpoint { return &endpoints.Endpoint{ID: "ep_" + strconv.Itoa(i), Auth: auth} }
	t0 := time.Unix(1_800_000_000, 0)
	for i := 0; i < minSweep; i++ {
		tokens.client(ep(i), t0)
	}
	active := tokens.client(ep(0), t0.Add(2*time.Hour))
	active.tok = &oauth2.Token{AccessToken: "kept"}
	tokens.client(ep(minSweep), t0.Add(2*time.Hour)) // the cache is full: sweep
	if n := len(tokens.byEndpoint); n != 2 {
		t.Fatalf("%d token clients after the sweep, want 2 (the one in use and the new one)", n)
	}
	if c := tokens.client(ep(0), t0.Add(2*time.Hour)); c != active || c.tok.AccessToken != "kept" {
		t.Fatal("the client in use was dropped or lost its token")
	}
	// Below the next sweep's size nothing is dropped, idle or not.
	for i := 1; i < 100; i++ {
		tokens.client(ep(i), t0.Add(5*time.Hour))
	}
	if n := len(tokens.byEndpoint); n != 101 {
		t.Fatalf("%d token clients, want 101", n)
	}
}
