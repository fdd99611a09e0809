package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/signing"
)

const testSecret = "demo-receiver-test-secret-0123456789"

// post has the pipeline's sender sign and POST events to url as an
// endpoint of app with dialect d does: batched in an array when d batches,
// shaped by d's payload otherwise. It returns the HTTP status.
func post(t *testing.T, url string, app string, d endpoints.Dialect, evs ...envelope.Envelope) int {
	t.Helper()
	ep := &endpoints.Endpoint{ID: "ep_test", TenantID: "t-acme", URL: url, Secrets: []string{testSecret}, Application: app, AppDialect: &d}
	sh, err := payload.New(d.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for i := range evs {
		evs[i].EventID, evs[i].CreatedUTC = delivery.NewID(), envelope.NowUTC(time.Now())
		v, err := envelope.AppendJSON(nil, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := sh.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	dl := &delivery.Delivery{ID: delivery.NewID(), EndpointID: ep.ID, TenantID: ep.TenantID, EventType: evs[0].Type, Items: len(evs), Tier: -1}
	if ep.Limits().MaxItems > 1 {
		dl.Batch, dl.Body = true, append(append([]byte{'['}, bytes.Join(bodies, []byte{','})...), ']')
	} else {
		dl.Body = bodies[0]
	}
	s := delivery.NewSender(delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	a := s.Send(t.Context(), ep, dl)
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	return a.Status
}

// TestEachReceiverTakesItsOwnDialect sends events the way the pipeline
// does, with each application's dialect, to each application's receiver:
// each takes its own, and tells apart what another application's dialect,
// another application's events, a stale timestamp and a wrong signature
// format look like.
func TestEachReceiverTakesItsOwnDialect(t *testing.T) {
	apps, err := Apps()
	if err != nil {
		t.Fatal(err)
	}
	studio, pro := apps[0], apps[1]
	studioRecv := NewRulesReceiver([]byte(testSecret), studio.Rules)
	proRecv := NewRulesReceiver([]byte(testSecret), pro.Rules)
	studioSrv, proSrv := httptest.NewServer(studioRecv), httptest.NewServer(proRecv)
	defer studioSrv.Close()
	defer proSrv.Close()
	studioEv, proEv := studio.NewSource(1), pro.NewSource(1)
	sd, pd := studio.Application.Dialect, pro.Application.Dialect

	check := func(what string, got, want Stats) {
		t.Helper()
		got.UniqueEvents, got.Redeliveries = 0, 0
		if got != want {
			t.Errorf("%s: %+v, want %+v", what, got, want)
		}
	}
	// Each application's deliveries, as its dialect makes them.
	if code := post(t, studioSrv.URL, studio.Application.ID, sd, studioEv.Next(), studioEv.Next(), studioEv.Next()); code != http.StatusNoContent {
		t.Fatalf("momentum studio batch: %d", code)
	}
	single := sd
	single.MaxItems = 1
	if code := post(t, studioSrv.URL, studio.Application.ID, single, studioEv.Next()); code != http.StatusNoContent {
		t.Fatalf("momentum studio single event: %d", code)
	}
	if code := post(t, proSrv.URL, pro.Application.ID, pd, proEv.Next()); code != http.StatusNoContent {
		t.Fatalf("momentumpro: %d", code)
	}
	check("momentum studio, own deliveries", studioRecv.Stats(), Stats{Verified: 2, Events: 4})
	check("momentumpro, own delivery", proRecv.Stats(), Stats{Verified: 1, Events: 1})

	// One application's dialect at the other's receiver: its signature
	// header is not there.
	if code := post(t, studioSrv.URL, pro.Application.ID, pd, proEv.Next()); code != http.StatusUnauthorized {
		t.Errorf("momentumpro delivery at momentum studio's receiver: %d, want 401", code)
	}
	if code := post(t, proSrv.URL, studio.Application.ID, sd, studioEv.Next()); code != http.StatusUnauthorized {
		t.Errorf("momentum studio delivery at momentumpro's receiver: %d, want 401", code)
	}
	// Momentumpro signed sha256=<hex>: its verifier compares bare hex.
	wrongFormat := pd
	wrongFormat.SignatureFormat = endpoints.SignatureSHA256
	if code := post(t, proSrv.URL, pro.Application.ID, wrongFormat, proEv.Next()); code != http.StatusUnauthorized {
		t.Errorf("momentumpro signed sha256=: %d, want 401", code)
	}
	// Another application's events in the receiver's own dialect: routed
	// to the wrong endpoint. Answered, and counted as foreign.
	if code := post(t, studioSrv.URL, pro.Application.ID, sd, proEv.Next()); code != http.StatusNoContent {
		t.Errorf("momentumpro event in momentum studio's dialect: %d", code)
	}
	if code := post(t, proSrv.URL, studio.Application.ID, pd, studioEv.Next()); code != http.StatusNoContent {
		t.Errorf("momentum studio event in momentumpro's dialect: %d", code)
	}
	check("momentum studio, after the others'", studioRecv.Stats(), Stats{Verified: 3, Events: 5, Rejected: 1, Foreign: 1})
	check("momentumpro, after the others'", proRecv.Stats(), Stats{Verified: 2, Events: 2, Rejected: 2, Foreign: 1})

	// A Momentumpro body in the full shape is not its documented body.
	full := pd
	full.Payload = nil
	if code := post(t, proSrv.URL, pro.Application.ID, full, proEv.Next()); code != http.StatusBadRequest {
		t.Errorf("momentumpro envelope body: %d, want 400", code)
	}
	// Signed six minutes ago, as the receiver's clock reads it.
	proRecv.now = func() time.Time { return time.Now().Add(6 * time.Minute) }
	if code := post(t, proSrv.URL, pro.Application.ID, pd, proEv.Next()); code != http.StatusUnauthorized {
		t.Errorf("momentumpro delivery signed 6 minutes ago: %d, want 401", code)
	}
	check("momentumpro, malformed and stale", proRecv.Stats(), Stats{Verified: 2, Events: 2, Rejected: 2, Foreign: 1, Malformed: 1, Stale: 1})
}

// TestLegacyPingAndShape: the API's ping, in the legacy shape with event
// ping, is answered and not counted; a legacy body with more fields than the
// document's, or an array, is malformed.
func TestLegacyPingAndShape(t *testing.T) {
	for _, tc := range []struct {
		body  string
		ping  bool
		valid bool
	}{
		{`{"event":"ping","occurred_at":"2026-01-01T00:00:00.000Z","data":{"id":"ping:1","message":"test delivery from hookline"}}`, true, true},
		{`{"event":"leave.approved","occurred_at":"2026-04-29T14:32:11Z","data":{"id":123,"employee_id":45}}`, false, true},
		{`{"event":"leave.approved","occurred_at":"2026-04-29T14:32:11Z","data":{"id":123},"tenant":"t"}`, false, false},
		{`[{"event":"leave.approved","occurred_at":"2026-04-29T14:32:11Z","data":{"id":123}}]`, false, false},
		{`{"event":"leave.approved","occurred_at":"yesterday","data":{"id":123}}`, false, false},
		{`{"event":"leave.approved","occurred_at":"2026-04-29T14:32:11Z","data":{"days":5}}`, false, false},
	} {
		evs, ping, err := readBody([]byte(tc.body), true)
		if ping != tc.ping || (err == nil) != tc.valid || (tc.valid && !ping && len(evs) != 1) {
			t.Errorf("%s: events %v, ping %v, err %v", tc.body, evs, ping, err)
		}
	}
}

// TestFailEveryFailsFirstAttemptsOnly: with FailEvery 1 every delivery's
// first attempt is answered 503 and its retry taken, counted as retried;
// with FailEvery 3, the first attempts of the first, fourth and seventh
// deliveries fail, whether or not the failed ones came back in between.
func TestFailEveryFailsFirstAttemptsOnly(t *testing.T) {
	const body = `{"type":"task.created","eventId":"e1","tenantId":"t","createdUtc":"2026-01-01T00:00:00.000Z","data":{"task":{"id":"1"}}}`
	serve := func(failEvery int) (*Receiver, func(id string) int) {
		recv := NewReceiver([]byte(testSecret), "")
		recv.FailEvery = failEvery
		srv := httptest.NewServer(recv)
		t.Cleanup(srv.Close)
		return recv, func(id string) int {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
			req.Header.Set("X-Hookline-Signature", signing.HexSignature([]byte(testSecret), []byte(body)))
			req.Header.Set("X-Hookline-Delivery", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	recv, send := serve(1)
	got := []int{send("d1"), send("d1"), send("d1"), send("d2")}
	if want := []int{503, 204, 204, 503}; !slices.Equal(got, want) {
		t.Fatalf("answers %v, want %v", got, want)
	}
	if s := recv.Stats(); s.Verified != 2 || s.Retried != 1 || s.Redeliveries != 1 {
		t.Fatalf("stats %+v, want 2 verified, 1 retried, 1 redelivery", s)
	}

	_, send = serve(3)
	var failed []int
	for i := range 9 {
		if send(fmt.Sprint("e", i)) == http.StatusServiceUnavailable {
			failed = append(failed, i)
			if i == 3 && send(fmt.Sprint("e", i)) != http.StatusNoContent {
				t.Fatal("the retry of a failed first attempt was not taken")
			}
		}
	}
	if !slices.Equal(failed, []int{0, 3, 6}) {
		t.Fatalf("failed first attempts of deliveries %v, want [0 3 6]", failed)
	}
}
