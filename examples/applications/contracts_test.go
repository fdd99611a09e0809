package examples

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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
