package dispatcher_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// recorder keeps every POST and answers 204 when accept passes, else 401.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []recorded
	accept func(http.Header) bool
}

type recorded struct {
	header http.Header
	body   []byte
	status int
}

func newRecorder(t *testing.T, accept func(http.Header) bool) *recorder {
	rc := &recorder{accept: accept}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status := http.StatusNoContent
		if rc.accept != nil && !rc.accept(r.Header) {
			status = http.StatusUnauthorized
		}
		rc.mu.Lock()
		rc.posts = append(rc.posts, recorded{r.Header.Clone(), body, status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// accepted waits until the accepted POSTs carry n events and returns them.
func (rc *recorder) accepted(t *testing.T, n int) []recorded {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		var ok []recorded
		got := 0
		for _, p := range rc.posts {
			if p.status == http.StatusNoContent {
				ok = append(ok, p)
				got += len(testbackend.Events(t, p.body))
			}
		}
		rc.mu.Unlock()
		if got >= n {
			return ok
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted %d of %d events", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBareHexVerifierAcceptsDeliveries configures the X-Momentumpro
// header prefix and bare hex signatures, and runs that receiver's own
// Python verifier (testdata/verifier_hex.py), with its five-minute
// timestamp rule, over every delivery received. The sha256= verifiers keep
// accepting the default format on the same run.
func TestBareHexVerifierAcceptsDeliveries(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		rc := newRecorder(t, nil)
		hexEP := func(id string, items int) *endpoints.Endpoint {
			return &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: rc.srv.URL + "/" + id, Secrets: []string{secret},
				SignatureFormat: endpoints.SignatureHex, MaxItems: items, MaxWait: endpoints.Duration(100 * time.Millisecond)}
		}
		def := hexEP("default", 1)
		def.SignatureFormat = ""
		f := newFixture(t, b, []*endpoints.Endpoint{hexEP("single", 1), hexEP("batch", 4), def},
			func(c *dispatcher.Config) { c.Sender.Prefix = "X-Momentumpro" })
		for i := range 8 {
			f.publish(t, taskEvent("t-1", "o"+strconv.Itoa(i), `quotes " and unicode é`))
		}
		posts := rc.accepted(t, 24)
		type tc struct {
			Body      string `json:"body"`
			Signature string `json:"signature"`
			Timestamp string `json:"timestamp"`
		}
		var bare, prefixed []tc
		for _, p := range posts {
			c := tc{base64.StdEncoding.EncodeToString(p.body), p.header.Get("X-Momentumpro-Signature"), p.header.Get("X-Momentumpro-Timestamp")}
			if strings.HasPrefix(c.Signature, "sha256=") {
				prefixed = append(prefixed, c)
			} else {
				bare = append(bare, c)
			}
		}
		if len(prefixed) != 8 || len(bare) < 10 {
			t.Fatalf("%d sha256= and %d bare signatures, want 8 and at least 10 (8 single, 2+ batches)", len(prefixed), len(bare))
		}
		run := func(script string, cases []tc) {
			file := filepath.Join(t.TempDir(), "cases.json")
			raw, _ := json.Marshal(cases)
			if err := os.WriteFile(file, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := strings.Fields(script)
			out, err := exec.Command(cmd[0], append(cmd[1:], file, secret)...).CombinedOutput()
			want := fmt.Sprintf("verified %d of %d", len(cases), len(cases))
			if err != nil || !strings.Contains(string(out), want) {
				t.Fatalf("%s: %v: %s", script, err, out)
			}
			t.Logf("%s: %s", script, strings.TrimSpace(string(out)))
		}
		run("python3 testdata/verifier_hex.py", bare)
		run("python3 testdata/verifier_sha256.py", prefixed)
		run("node testdata/verifier_sha256.js", prefixed)
	})
}

// TestAuthReceiversThroughPipeline: a static token header and OAuth2
// client credentials, each checked by its receiver,
// on every delivery the pipeline makes; one token serves them all.
func TestAuthReceiversThroughPipeline(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		var tokenRequests atomic.Int64
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tokenRequests.Add(1)
			if id, sec, ok := r.BasicAuth(); !ok || id != "momentus" || sec != "client-secret-42" || r.PostFormValue("grant_type") != "client_credentials" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"at-42","token_type":"Bearer","expires_in":3600}`)
		}))
		t.Cleanup(idp.Close)
		tokenRC := newRecorder(t, func(h http.Header) bool { return h.Get("X-MessageSystems-Webhook-Token") == "static-token" })
		oauthRC := newRecorder(t, func(h http.Header) bool { return h.Get("Authorization") == "Bearer at-42" })
		name := testbackend.UniqueName(t) // endpoint ids differ per backend, so each fetches its own token
		eps := []*endpoints.Endpoint{
			{ID: name + "-token", TenantID: "t-1", URL: tokenRC.srv.URL, Secrets: []string{secret}, MaxItems: 1,
				Auth: &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: "static-token"}},
			{ID: name + "-oauth", TenantID: "t-1", URL: oauthRC.srv.URL, Secrets: []string{secret}, MaxItems: 1,
				Auth: &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: idp.URL + "/token", ClientID: "momentus", ClientSecret: "client-secret-42"}},
		}
		newFixture(t, b, eps, nil).publish(t, taskEvent("t-1", "a", "x"), taskEvent("t-1", "b", "x"), taskEvent("t-1", "c", "x"), taskEvent("t-1", "d", "x"), taskEvent("t-1", "e", "x"))
		for what, rc := range map[string]*recorder{"token header": tokenRC, "oauth2": oauthRC} {
			rc.accepted(t, 5)
			rc.mu.Lock()
			n := len(rc.posts)
			rc.mu.Unlock()
			if n != 5 {
				t.Errorf("%s receiver got %d POSTs for 5 events, want 5, all accepted", what, n)
			}
		}
		if n := tokenRequests.Load(); n != 1 {
			t.Errorf("%d token requests for 5 deliveries, want 1", n)
		}
	})
}
