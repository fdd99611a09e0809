package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/signing"
)

// TestPostResignsStaleSignature: a delivery signed ahead and then held up
// (behind a slow request) is signed afresh when sent, so the receiver sees
// a current timestamp and a signature that verifies over the exact body.
func TestPostResignsStaleSignature(t *testing.T) {
	h := signing.HeadersFor("")
	type got struct {
		ts, sig string
		body    []byte
	}
	recv := make(chan got, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		recv <- got{r.Header.Get(h.Timestamp), r.Header.Get(h.Signature), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	d := &Delivery{ID: NewID(), EndpointID: "e", EventType: "task.updated", Items: 1, Body: []byte(`{"type":"task.updated"}`)}

	for _, tc := range []struct {
		name     string
		signedAt time.Time
	}{
		{"fresh", time.Now()},
		{"stale", time.Now().Add(-2 * MaxSignatureAge)},
	} {
		a := s.Post(context.Background(), s.Sign(ep, d, tc.signedAt))
		if a.Err != nil || a.Status != http.StatusNoContent {
			t.Fatalf("%s: attempt %+v", tc.name, a)
		}
		g := <-recv
		ts, err := time.Parse(signing.TimestampLayout, g.ts)
		if err != nil {
			t.Fatalf("%s: timestamp %q: %v", tc.name, g.ts, err)
		}
		if age := time.Since(ts); age > MaxSignatureAge {
			t.Errorf("%s: timestamp %s is %s old at arrival", tc.name, g.ts, age)
		}
		if want := signing.HexSignature([]byte("whsec-test"), g.body); g.sig != want || string(g.body) != string(d.Body) {
			t.Errorf("%s: signature %q over %q, want %q over the delivery body", tc.name, g.sig, g.body, want)
		}
	}
}

// TestRetryAfterIsCapped: an endpoint answering 503 with a Retry-After of
// two days gets the cap, and one within the cap gets what it asked.
func TestRetryAfterIsCapped(t *testing.T) {
	ask := "172800"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", ask)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxRetryAfter: 10 * time.Minute})
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	d := &Delivery{ID: NewID(), EndpointID: "e", EventType: "task.updated", Items: 1, Body: []byte(`{}`)}
	if a := s.Send(context.Background(), ep, d); a.RetryAfter != 10*time.Minute {
		t.Fatalf("Retry-After %s of 2 days gave %s, want the 10m cap", ask, a.RetryAfter)
	}
	ask = "120"
	if a := s.Send(context.Background(), ep, d); a.RetryAfter != 2*time.Minute {
		t.Fatalf("Retry-After 120 gave %s, want 2m", a.RetryAfter)
	}
	if got := NewSender(SenderConfig{}).cfg.MaxRetryAfter; got != time.Hour {
		t.Fatalf("default cap %s, want 1h", got)
	}
}
