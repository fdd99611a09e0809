package examples

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each product's contract is what its document tells a receiver to check,
// written from that document alone.

// contract is what a receiver written from one product's document checks
// on each request; check returns the object ids of the events the body
// carries (the samples make them decimal numbers).
type contract struct {
	product string
	// prefix names the headers whose -Delivery value groups the attempts
	// of one delivery (the test's bookkeeping, not the product's check).
	prefix string
	check  func(r *http.Request, body []byte) ([]string, error)
}

// studioContract: the envelope {type, eventId, tenantId, createdUtc,
// data} alone in each POST, with the X-Momentum-* headers and the
// Momentum-Webhook/1.0 user agent.
func studioContract(secret string) contract {
	types := []string{"task.created", "task.updated", "task.deleted", "project.created", "project.updated", "project.deleted",
		"project.budget_threshold", "member.joined", "member.data_deletion_requested"}
	return contract{product: studioID, prefix: "X-Momentum", check: func(r *http.Request, body []byte) ([]string, error) {
		if !verifyMomentumSignature(body, r.Header.Get("X-Momentum-Signature"), secret) {
			return nil, errSignature
		}
		if err := jsonPOST(r, "Momentum-Webhook/1.0"); err != nil {
			return nil, err
		}
		if id := r.Header.Get("X-Momentum-Delivery"); !deliveryID.MatchString(id) {
			return nil, fmt.Errorf("X-Momentum-Delivery %q is not 12 hex bytes", id)
		}
		if err := isoUTC("X-Momentum-Timestamp", r.Header.Get("X-Momentum-Timestamp")); err != nil {
			return nil, err
		}
		var env map[string]json.RawMessage
		if err := exactObject(body, &env, "type", "eventId", "tenantId", "createdUtc", "data"); err != nil {
			return nil, err
		}
		var typ, created string
		_ = json.Unmarshal(env["type"], &typ)
		_ = json.Unmarshal(env["createdUtc"], &created)
		switch {
		case !slices.Contains(types, typ):
			return nil, fmt.Errorf("type %q is not a Momentum Studio event", typ)
		case r.Header.Get("X-Momentum-Event") != typ:
			return nil, fmt.Errorf("X-Momentum-Event %q for a %s event", r.Header.Get("X-Momentum-Event"), typ)
		}
		if err := isoUTC("createdUtc", created); err != nil {
			return nil, err
		}
		id, err := objectID(env["data"], typ[:strings.IndexByte(typ, '.')])
		return []string{id}, err
	}}
}

// proContract: {event, occurred_at, data} alone in each POST, data being
// the object itself, with a bare hex signature and a fresh timestamp.
func proContract(secret string) contract {
	return contract{product: proID, prefix: "X-Momentumpro", check: func(r *http.Request, body []byte) ([]string, error) {
		if !verifyMomentumpro(body, r.Header.Get("X-Momentumpro-Signature"), secret) {
			return nil, errSignature
		}
		if err := momentumproFresh(r.Header.Get("X-Momentumpro-Timestamp"), time.Now()); err != nil {
			return nil, err
		}
		var b map[string]json.RawMessage
		if err := exactObject(body, &b, "event", "occurred_at", "data"); err != nil {
			return nil, err
		}
		var ev, at string
		_ = json.Unmarshal(b["event"], &ev)
		_ = json.Unmarshal(b["occurred_at"], &at)
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			return nil, fmt.Errorf("occurred_at %q: %v", at, err)
		}
		if !proEvent.MatchString(ev) {
			return nil, fmt.Errorf("event %q is not a Momentumpro event", ev)
		}
		id, err := numericID(b["data"])
		return []string{id}, err
	}}
}

// momentusContract: a bearer token the receiver's own token server
// issued, on the envelope of an event of its application. The document
// leaves how the secret key authenticates a request; hookline's answer
// (README.md) is the default scheme's X-Hookline-Signature, checked here.
func momentusContract(app, secret string, bearer func(token string) bool) contract {
	return contract{product: app, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !bearer(tok) || !verifyMomentumSignature(body, r.Header.Get("X-Hookline-Signature"), secret) {
			return nil, errSignature
		}
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var env struct {
			Type        string          `json:"type"`
			Application string          `json:"application"`
			Data        json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("body: %v", err)
		}
		if env.Type != "account.updated" || env.Application != app {
			return nil, fmt.Errorf("a %s event of %q at a %s receiver", env.Type, env.Application, app)
		}
		id, err := objectID(env.Data, "account")
		return []string{id}, err
	}}
}

// eventsContract: a JSON array of reporting records, each {"msys":
// {"<class>_event": {...}}}, behind the webhook's token.
func eventsContract(token string) contract {
	kinds := map[string][]string{"message_event": {"injection", "delivery"}, "track_event": {"open", "click"}}
	return contract{product: eventsID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		if !sameToken(r.Header.Get("X-MessageSystems-Webhook-Token"), token) {
			return nil, errSignature
		}
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var batch []map[string]map[string]json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
			return nil, fmt.Errorf("body is not a non-empty array of records: %v", err)
		}
		ids := make([]string, 0, len(batch))
		for i, rec := range batch {
			msys, ok := rec["msys"]
			if len(rec) != 1 || !ok || len(msys) != 1 {
				return nil, fmt.Errorf("record %d is not {\"msys\": {\"<class>_event\": ...}}", i)
			}
			for class, raw := range msys {
				var ev struct {
					ID   string `json:"id"`
					Type string `json:"type"`
				}
				if err := json.Unmarshal(raw, &ev); err != nil || !slices.Contains(kinds[class], ev.Type) || ev.ID == "" {
					return nil, fmt.Errorf("record %d: %s of type %q", i, class, ev.Type)
				}
				ids = append(ids, ev.ID)
			}
		}
		return ids, nil
	}}
}

// momentContract: {"event": ..., "<object>": {"id": <number>, ...}}.
func momentContract() contract {
	objects := []string{"claim", "customer", "invoice", "offer", "project"}
	return contract{product: momentID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var b map[string]json.RawMessage
		if err := json.Unmarshal(body, &b); err != nil || len(b) != 2 {
			return nil, fmt.Errorf("body is not {event, <object>}: %s", body)
		}
		var ev string
		if json.Unmarshal(b["event"], &ev) != nil || ev == "" {
			return nil, fmt.Errorf("event %s", b["event"])
		}
		for _, o := range objects {
			if raw, ok := b[o]; ok {
				id, err := numericID(raw)
				return []string{id}, err
			}
		}
		return nil, fmt.Errorf("no Moment object in %s", body)
	}}
}

// TestContractsRefuseWhatTheirDocumentsRefuse holds the receivers to their
// documents on hand-made requests, so the pipeline tests' passing means
// something: each refuses a wrong secret, token or bearer, the other
// signature format, a stale Momentumpro timestamp, and a body of another
// shape.
func TestContractsRefuseWhatTheirDocumentsRefuse(t *testing.T) {
	const secret = "the-secret"
	mac := func(body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return hex.EncodeToString(m.Sum(nil))
	}
	now := time.Now().UTC()
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	studioBody := `{"type":"task.created","eventId":"task:1:x","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"1"}}}`
	studioHeaders := map[string]string{"Content-Type": "application/json", "User-Agent": "Momentum-Webhook/1.0", "X-Momentum-Event": "task.created",
		"X-Momentum-Delivery": "0123456789abcdef01234567", "X-Momentum-Timestamp": stamp(now), "X-Momentum-Signature": "sha256=" + mac(studioBody)}
	proBody := `{"event":"leave.approved","occurred_at":"2026-04-29T14:32:11Z","data":{"id":123}}`
	proHeaders := map[string]string{"Content-Type": "application/json", "X-Momentumpro-Signature": mac(proBody), "X-Momentumpro-Timestamp": stamp(now)}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{}
		for a, b := range h {
			out[a] = b
		}
		out[k] = v
		return out
	}
	eventsBody := `[{"msys":{"track_event":{"id":"9","type":"click"}}}]`
	eventsHeaders := map[string]string{"Content-Type": "application/json", "X-MessageSystems-Webhook-Token": "tok"}
	momentusBody := `{"type":"account.updated","application":"momentus-connect-elite","data":{"account":{"id":"4"}}}`
	momentusHeaders := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer good", "X-Hookline-Signature": "sha256=" + mac(momentusBody)}
	bearer := func(tok string) bool { return tok == "good" }
	momentBody := `{"event":"CREATE_NEW","invoice":{"id":106939080}}`
	jsonOnly := map[string]string{"Content-Type": "application/json"}

	for _, tc := range []struct {
		name    string
		c       contract
		headers map[string]string
		body    string
		want    error // nil, errSignature, or errOther for any other refusal
	}{
		{"studio as documented", studioContract(secret), studioHeaders, studioBody, nil},
		{"studio, another secret", studioContract("other"), studioHeaders, studioBody, errSignature},
		{"studio, bare hex", studioContract(secret), with(studioHeaders, "X-Momentum-Signature", mac(studioBody)), studioBody, errSignature},
		{"studio, another user agent", studioContract(secret), with(studioHeaders, "User-Agent", "Go-http-client/1.1"), studioBody, errOther},
		{"studio, an extra envelope field", studioContract(secret),
			with(studioHeaders, "X-Momentum-Signature", "sha256="+mac(strings.Replace(studioBody, `{"type"`, `{"origin":"api","type"`, 1))),
			strings.Replace(studioBody, `{"type"`, `{"origin":"api","type"`, 1), errOther},
		{"momentumpro as documented", proContract(secret), proHeaders, proBody, nil},
		{"momentumpro, sha256= prefix", proContract(secret), with(proHeaders, "X-Momentumpro-Signature", "sha256="+mac(proBody)), proBody, errSignature},
		{"momentumpro, 6 minutes old", proContract(secret), with(proHeaders, "X-Momentumpro-Timestamp", stamp(now.Add(-6*time.Minute))), proBody, errSignature},
		{"momentumpro, 4 minutes old", proContract(secret), with(proHeaders, "X-Momentumpro-Timestamp", stamp(now.Add(-4*time.Minute))), proBody, nil},
		{"momentumpro, the envelope", proContract(secret), with(proHeaders, "X-Momentumpro-Signature", mac(studioBody)), studioBody, errOther},
		{"events as documented", eventsContract("tok"), eventsHeaders, eventsBody, nil},
		{"events, another token", eventsContract("tok2"), eventsHeaders, eventsBody, errSignature},
		{"events, one record alone", eventsContract("tok"), eventsHeaders, `{"msys":{"track_event":{"id":"9","type":"click"}}}`, errOther},
		{"momentus as configured", momentusContract(eliteID, secret, bearer), momentusHeaders, momentusBody, nil},
		{"momentus, a token it never issued", momentusContract(eliteID, secret, bearer), with(momentusHeaders, "Authorization", "Bearer forged"), momentusBody, errSignature},
		{"momentus, the other application", momentusContract(enterpriseID, secret, bearer), momentusHeaders, momentusBody, errOther},
		{"moment as documented", momentContract(), jsonOnly, momentBody, nil},
		{"moment, a batch", momentContract(), jsonOnly, "[" + momentBody + "]", errOther},
		{"moment, the envelope", momentContract(), jsonOnly, studioBody, errOther},
	} {
		r := httptest.NewRequest("POST", "/webhook", strings.NewReader(tc.body))
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		_, err := tc.c.check(r, []byte(tc.body))
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want == errSignature && !errors.Is(err, errSignature):
			t.Errorf("%s: %v, want a bad signature", tc.name, err)
		case tc.want == errOther && (err == nil || errors.Is(err, errSignature)):
			t.Errorf("%s: %v, want the body or a header refused", tc.name, err)
		}
	}
}

// errOther stands for any refusal other than errSignature.
var errOther = errors.New("refused")
