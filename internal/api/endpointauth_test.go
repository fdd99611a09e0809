package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookline/hookline/internal/testbackend"
)

// Every auth type is set at create and carried by the test ping; reads
// show the type and the public parts only; PATCH replaces credentials of
// the same type and refuses another type.
func TestEndpointAuthThroughAPI(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		var tokenRequests atomic.Int64
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tokenRequests.Add(1)
			if id, sec, ok := r.BasicAuth(); !ok || id != "cid-9" || sec != "oauth-client-secret-9" {
				w.WriteHeader(401)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"bearer-token-9","token_type":"Bearer","expires_in":3600}`)
		}))
		t.Cleanup(idp.Close)

		secrets := []string{"header-token-value-1", "header-token-value-2", "basic-password-1", "oauth-client-secret-9", "bearer-token-9"}
		cases := []struct {
			name    string
			auth    map[string]any
			view    string
			checkOn func(http.Header) bool
		}{
			{"hdr", map[string]any{"type": "header", "name": "X-MessageSystems-Webhook-Token", "value": "header-token-value-1"},
				`{"name":"X-MessageSystems-Webhook-Token","type":"header"}`,
				func(h http.Header) bool { return h.Get("X-MessageSystems-Webhook-Token") == "header-token-value-1" }},
			{"basic", map[string]any{"type": "basic", "username": "hooks", "password": "basic-password-1"},
				`{"type":"basic","username":"hooks"}`,
				func(h http.Header) bool {
					u, p, ok := (&http.Request{Header: h}).BasicAuth()
					return ok && u == "hooks" && p == "basic-password-1"
				}},
			{"oauth", map[string]any{"type": "oauth2", "tokenUrl": idp.URL + "/token", "clientId": "cid-9", "clientSecret": "oauth-client-secret-9", "scopes": []string{"hooks"}},
				`{"clientId":"cid-9","scopes":["hooks"],"tokenUrl":"` + idp.URL + `/token","type":"oauth2"}`,
				func(h http.Header) bool { return h.Get("Authorization") == "Bearer bearer-token-9" }},
			{"plain", nil, `{"type":"none"}`, func(h http.Header) bool { return h.Get("Authorization") == "" }},
		}
		ids := map[string]string{}
		for _, c := range cases {
			body := endpointBody(c.name, rc.URL())
			if c.auth != nil {
				body = with(body, "auth", c.auth)
			}
			r := e.do("POST", "/v1/endpoints", key, body).want(t, 201)
			ids[c.name] = r.str("id")
			// r.JSON is a map: keys come back sorted.
			if got, _ := json.Marshal(r.JSON["auth"]); string(got) != c.view {
				t.Errorf("%s: create shows auth %s, want %s", c.name, got, c.view)
			}
			posts := rc.got()
			if p := posts[len(posts)-1]; !c.checkOn(p.Header) || !hooklineSigned(p, r.str("secret")) {
				t.Errorf("%s: the ping lacks the credentials or the signature: %v", c.name, p.Header)
			}
		}
		if n := tokenRequests.Load(); n != 1 {
			t.Errorf("%d token requests for one ping, want 1", n)
		}

		// Another type is refused; the same type's credentials are replaced.
		e.do("PATCH", "/v1/endpoints/"+ids["hdr"], key, map[string]any{"auth": map[string]any{"type": "basic", "username": "u", "password": "p"}}).wantErr(t, 400, "auth.type")
		e.do("PATCH", "/v1/endpoints/"+ids["plain"], key, map[string]any{"auth": map[string]any{"type": "header", "name": "X-T", "value": "v"}}).wantErr(t, 400, "auth.type")
		r := e.do("PATCH", "/v1/endpoints/"+ids["hdr"], key, map[string]any{"auth": map[string]any{"value": "header-token-value-2"}}).want(t, 200)
		posts := rc.got()
		if got := posts[len(posts)-1].Header.Get("X-MessageSystems-Webhook-Token"); got != "header-token-value-2" {
			t.Fatalf("after PATCH the ping sent token %q", got)
		}
		if got, _ := json.Marshal(r.JSON["auth"]); string(got) != cases[0].view {
			t.Fatalf("PATCH shows %s", got)
		}

		// Bad input names the field.
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x1", rc.URL()), "auth", map[string]any{"type": "header", "name": "X-T", "valu": "v"})).wantErr(t, 400, "auth.valu")
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x2", rc.URL()), "auth", map[string]any{"name": "X-T", "value": "v"})).wantErr(t, 400, "auth.type")
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x3", rc.URL()), "auth", map[string]any{"type": "header", "name": "Content-Type", "value": "v"})).wantErr(t, 400, "auth.name")
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x4", rc.URL()), "auth", map[string]any{"type": "oauth2", "tokenUrl": idp.URL, "clientId": "c"})).wantErr(t, 400, "auth.clientSecret")
		// A token endpoint refusing the credentials fails the ping, naming auth.
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x7", rc.URL()), "auth", map[string]any{"type": "oauth2", "tokenUrl": idp.URL + "/token", "clientId": "cid-9", "clientSecret": "not-the-secret"})).wantErr(t, 400, "auth")
		// The token URL obeys the endpoint URL's network rules.
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x5", rc.URL()), "auth", map[string]any{"type": "oauth2", "tokenUrl": "https://10.1.2.3/token", "clientId": "c", "clientSecret": "s"})).wantErr(t, 400, "auth.tokenUrl")
		e.do("POST", "/v1/endpoints", key, with(endpointBody("x6", rc.URL()), "auth", map[string]any{"type": "oauth2", "tokenUrl": "https://169.254.169.254/token", "clientId": "c", "clientSecret": "s"})).wantErr(t, 400, "auth.tokenUrl")

		// No read shows a credential, and no log line holds one.
		var reads [][]byte
		for _, id := range ids {
			reads = append(reads, e.do("GET", "/v1/endpoints/"+id, key, nil).want(t, 200).Body)
		}
		reads = append(reads, e.do("GET", "/v1/endpoints", key, nil).want(t, 200).Body)
		for _, l := range e.logs.All() {
			reads = append(reads, []byte(fmt.Sprint(l.Message, l.ContextMap())))
		}
		for _, b := range reads {
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Fatalf("%q shown in %s", s, b)
				}
			}
		}
	})
}

// signatureFormat "hex" signs with the bare digest; the default shows
// and signs as sha256=<hex>.
func TestEndpointSignatureFormat(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		r := e.do("POST", "/v1/endpoints", key, with(endpointBody("bare", rc.URL()), "signatureFormat", "hex")).want(t, 201)
		p := rc.got()[0]
		m := hmac.New(sha256.New, []byte(r.str("secret")))
		m.Write(p.Body)
		if got := p.Header.Get("X-Hookline-Signature"); got != hex.EncodeToString(m.Sum(nil)) || r.str("signatureFormat") != "hex" {
			t.Fatalf("signature %q, format %q", got, r.str("signatureFormat"))
		}
		d := e.do("POST", "/v1/endpoints", key, endpointBody("default", rc.URL())).want(t, 201)
		if d.str("signatureFormat") != "sha256" || !hooklineSigned(rc.got()[1], d.str("secret")) {
			t.Fatalf("default: %s", d.Body)
		}
		e.do("PATCH", "/v1/endpoints/"+d.str("id"), key, map[string]any{"signatureFormat": "base64"}).wantErr(t, 400, "signatureFormat")
		if !strings.Contains(e.do("PATCH", "/v1/endpoints/"+d.str("id"), key, map[string]any{"signatureFormat": "hex"}).want(t, 200).str("signatureFormat"), "hex") {
			t.Fatal("PATCH signatureFormat not applied")
		}
	})
}
