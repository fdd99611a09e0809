package dispatcher_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestReceiverVerifiersAcceptPrefixedDeliveries configures the X-Momentum
// header prefix and runs that receiver's own Node.js and Python verifiers
// (testdata/verifier_sha256.*) over every delivery received, single
// events and batches alike.
func TestReceiverVerifiersAcceptPrefixedDeliveries(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Momentum")
		f := newFixture(t, b, []*endpoints.Endpoint{
			endpointFor("single", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 }),
			endpointFor("batch", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems, e.MaxWait = 4, endpoints.Duration(100*time.Millisecond) }),
		}, func(c *dispatcher.Config) { c.Sender.Prefix, c.Sender.UserAgent = "X-Momentum", "Momentum-Webhook/1.0" })
		for i := 0; i < 8; i++ {
			f.publish(t, taskEvent("t-1", "o"+strconv.Itoa(i), `quotes " and unicode é`))
		}
		s.Delivered(t, 16, 20*time.Second)
		posts, _ := s.Snapshot()
		type tc struct {
			Body      string `json:"body"`
			Signature string `json:"signature"`
		}
		var cases []tc
		for _, p := range posts {
			if p.Header.Get("User-Agent") != "Momentum-Webhook/1.0" || p.Header.Get("X-Momentum-Event") != "task.created" {
				t.Fatalf("headers %v", p.Header)
			}
			cases = append(cases, tc{base64.StdEncoding.EncodeToString(p.Body), p.Header.Get("X-Momentum-Signature")})
		}
		file := filepath.Join(t.TempDir(), "cases.json")
		raw, _ := json.Marshal(cases)
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, v := range [][]string{{"node", "testdata/verifier_sha256.js", file, secret}, {"python3", "testdata/verifier_sha256.py", file, secret}} {
			out, err := exec.Command(v[0], v[1:]...).CombinedOutput()
			want := "verified " + strconv.Itoa(len(cases)) + " of " + strconv.Itoa(len(cases))
			if err != nil || !strings.Contains(string(out), want) {
				t.Fatalf("%s verifier: %v: %s", v[0], err, out)
			}
			t.Logf("%s verifier: %s", v[0], strings.TrimSpace(string(out)))
		}
	})
}

// TestStandardWebhooksSchemeSignsWithEveryKeyDuringRotation checks the
// second scheme with a verifier written from the Standard Webhooks text:
// v1,<base64 HMAC-SHA256 of "id.timestamp.body">, space-separated.
func TestStandardWebhooksSchemeSignsWithEveryKeyDuringRotation(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		keys := [][]byte{[]byte("new-key-0123456789abcdef01"), []byte("old-key-0123456789abcdef01")}
		var mu sync.Mutex
		var got []http.Header
		var bodies [][]byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got, bodies = append(got, r.Header.Clone()), append(bodies, body)
			mu.Unlock()
			w.WriteHeader(200)
		}))
		t.Cleanup(srv.Close)
		ep := &endpoints.Endpoint{ID: "std", TenantID: "t-1", URL: srv.URL, Scheme: endpoints.SchemeStandard, MaxItems: 1,
			Secrets: []string{"whsec_" + base64.StdEncoding.EncodeToString(keys[0]), "whsec_" + base64.StdEncoding.EncodeToString(keys[1])}}
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, nil)
		f.publish(t, taskEvent("t-1", "a", "x"))
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("nothing delivered")
			}
			time.Sleep(20 * time.Millisecond)
		}
		h, body := got[0], bodies[0]
		id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) > time.Minute || len(id) != 24 {
			t.Fatalf("webhook-id %q webhook-timestamp %q", id, ts)
		}
		sigs := strings.Fields(h.Get("webhook-signature"))
		if len(sigs) != 2 {
			t.Fatalf("want one signature per key, got %q", h.Get("webhook-signature"))
		}
		for i, k := range keys {
			m := hmac.New(sha256.New, k)
			m.Write([]byte(id + "." + ts + "."))
			m.Write(body)
			if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); sigs[i] != want {
				t.Fatalf("key %d: signature %s, want %s", i, sigs[i], want)
			}
		}
	})
}
