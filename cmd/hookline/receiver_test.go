package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/signing"
)

func TestReceiverVerifiesAndCounts(t *testing.T) {
	recv := demo.NewReceiver([]byte("s3cret"), "X-Acme")
	srv := httptest.NewServer(receiverHandler(recv))
	defer srv.Close()
	post := func(body, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks", strings.NewReader(body))
		req.Header.Set("X-Acme-Signature", sig)
		req.Header.Set("X-Acme-Delivery", "d1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `[{"eventId":"e1"},{"eventId":"e2"}]`
	if code := post(body, signing.HexSignature([]byte("s3cret"), []byte(body))); code != http.StatusNoContent {
		t.Errorf("signed POST: %d, want 204", code)
	}
	if code := post(body, signing.HexSignature([]byte("other"), []byte(body))); code != http.StatusUnauthorized {
		t.Errorf("POST signed with another secret: %d, want 401", code)
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s demo.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s != (demo.Stats{Verified: 1, Rejected: 1, Events: 2, UniqueEvents: 2}) {
		t.Errorf("stats %+v", s)
	}
	if r, err := http.Get(srv.URL + "/healthz"); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v %v", r, err)
	}
}

func TestReceiverNeedsASecret(t *testing.T) {
	var f receiverFlags
	fs := quietFlagSet("receiver")
	f.register(fs)
	_ = fs.parse(nil)
	if _, err := f.key(); err == nil || !strings.Contains(err.Error(), "--secret (HOOKLINE_SECRET): required") {
		t.Errorf("no secret: %v", err)
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(receiverHandler(demo.NewReceiver([]byte("k"), "")))
	defer srv.Close()
	if err := runProbe(t.Context(), []string{"--url", srv.URL + "/healthz"}); err != nil {
		t.Errorf("probe /healthz: %v", err)
	}
	if err := runProbe(t.Context(), []string{"--url", srv.URL + "/readyz"}); err == nil || !strings.Contains(err.Error(), "405 Method Not Allowed") {
		t.Errorf("probe of a path not served: %v, want 405 (the receiver only takes POSTs there)", err)
	}
}
