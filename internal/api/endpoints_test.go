package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
)

func TestCreateEndpointPingsAndShowsSecretOnce(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		r := e.do("POST", "/v1/endpoints", key, endpointBody("orders", rc.URL())).want(t, 201)
		secret, id := r.str("secret"), r.str("id")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if !strings.HasPrefix(secret, "whsec_") || err != nil || len(raw) < 24 {
			t.Fatalf("generated secret is not whsec_ + base64 of >= 24 bytes (%d bytes, %v)", len(raw), err)
		}
		if r.Header.Get("Location") != "/v1/endpoints/"+id || r.JSON["secretSet"] != true || r.str("timeout") != "10s" || r.str("status") != "active" {
			t.Fatalf("create response: %s", r.Body)
		}
		posts := rc.got()
		if len(posts) != 1 {
			t.Fatalf("receiver got %d POSTs, want 1 ping", len(posts))
		}
		p := posts[0]
		if !hooklineSigned(p, secret) || p.Header.Get("X-Hookline-Event") != api.PingType || len(p.Header.Get("X-Hookline-Delivery")) != 24 {
			t.Fatalf("ping not signed as a delivery with the shown secret: %v", p.Header)
		}
		var batch []map[string]any
		if err := json.Unmarshal(p.Body, &batch); err != nil || len(batch) != 1 || batch[0]["type"] != "ping" || batch[0]["tenantId"] == "" {
			t.Fatalf("ping body (batching endpoint: an array of one envelope): %s", p.Body)
		}
		// Never shown again.
		for _, path := range []string{"/v1/endpoints/" + id, "/v1/endpoints", "/v1/endpoints?status=active"} {
			g := e.do("GET", path, key, nil).want(t, 200)
			if bytes.Contains(g.Body, []byte(secret)) || bytes.Contains(g.Body, []byte(`"secret"`)) || !bytes.Contains(g.Body, []byte(`"secretSet":true`)) {
				t.Fatalf("GET %s shows the secret or hides secretSet: %s", path, g.Body)
			}
		}
		// A caller's own secret, single-event endpoint: the ping is the envelope itself.
		own := "my-own-secret-of-enough-length-0123"
		r2 := e.do("POST", "/v1/endpoints", key, with(endpointBody("single", rc.URL()), "secret", own, "maxItems", 1)).want(t, 201)
		if r2.str("secret") != own {
			t.Fatalf("own secret not kept: %s", r2.Body)
		}
		p2 := rc.got()[1]
		var env map[string]any
		if !hooklineSigned(p2, own) || json.Unmarshal(p2.Body, &env) != nil || env["type"] != "ping" {
			t.Fatalf("single-event ping: %s", p2.Body)
		}
	})
}

func TestCreateEndpointRejectedPing(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		rc.setStatus(500)
		r := e.do("POST", "/v1/endpoints", key, endpointBody("orders", rc.URL())).wantErr(t, 400, "url")
		if !strings.Contains(r.str("error"), "500") {
			t.Fatalf("error does not name the status: %s", r.Body)
		}
		rc.setStatus(302)
		e.do("POST", "/v1/endpoints", key, endpointBody("orders", rc.URL())).wantErr(t, 400, "url")
		if l := e.do("GET", "/v1/endpoints", key, nil).want(t, 200); len(l.JSON["data"].([]any)) != 0 {
			t.Fatalf("a refused endpoint was created: %s", l.Body)
		}
		// Nobody listening at all.
		dead := newReceiver(t)
		url := dead.URL()
		dead.srv.Close()
		e.do("POST", "/v1/endpoints", key, endpointBody("orders", url)).wantErr(t, 400, "url")
		// verify:false skips the ping.
		before := len(rc.got())
		e.do("POST", "/v1/endpoints", key, with(endpointBody("orders", rc.URL()), "verify", false)).want(t, 201)
		if len(rc.got()) != before {
			t.Fatal("verify:false still pinged")
		}
	})
}

func TestCreateEndpointRefusesBadInput(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	base := endpointBody("x", rc.URL())
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no url", map[string]any{"name": "x", "eventTypes": []string{"*"}}, "url"},
		{"relative url", with(base, "url", "/hook"), "url"},
		{"not a url", with(base, "url", "::nope"), "url"},
		{"ftp url", with(base, "url", "ftp://example.com/x"), "url"},
		{"credentials in url", with(base, "url", "https://u:p@example.com/x"), "url"},
		{"private ip", with(base, "url", "https://10.1.2.3/x"), "url"},
		{"metadata ip", with(base, "url", "https://169.254.169.254/latest"), "url"},
		{"mapped private ip", with(base, "url", "https://[::ffff:192.168.0.1]/x"), "url"},
		{"hex ip", with(base, "url", "https://0x7f000001/x"), "url"},
		{"no name", map[string]any{"url": rc.URL(), "eventTypes": []string{"*"}}, "name"},
		{"name wrong type", with(base, "name", 5), "name"},
		{"no event types", with(base, "eventTypes", []string{}), "eventTypes"},
		{"unknown event type", with(base, "eventTypes", []string{"task.exploded"}), "eventTypes"},
		{"pattern matching nothing", with(base, "eventTypes", []string{"invoice.*"}), "eventTypes"},
		{"bad pattern", with(base, "eventTypes", []string{"ta*k"}), "eventTypes"},
		{"timeout too long", with(base, "timeout", "61s"), "timeout"},
		{"timeout not a duration", with(base, "timeout", "soon"), "timeout"},
		{"timeout a number", with(base, "timeout", 10), "timeout"},
		{"maxItems too big", with(base, "maxItems", 10001), "maxItems"},
		{"maxBytes too big", with(base, "maxBytes", 64<<20), "maxBytes"},
		{"maxWait too long", with(base, "maxWait", "1h"), "maxWait"},
		{"negative maxAge", with(base, "maxAge", "-1s"), "maxAge"},
		{"scheme", with(base, "scheme", "basic"), "scheme"},
		{"retry policy", with(base, "retryPolicy", "4xx"), "retryPolicy"},
		{"short secret", with(base, "secret", "short"), "secret"},
		{"standard secret not whsec", with(base, "scheme", "standard-webhooks", "secret", strings.Repeat("a", 40)), "secret"},
		{"standard secret too short", with(base, "scheme", "standard-webhooks", "secret", "whsec_"+base64.StdEncoding.EncodeToString(make([]byte, 16))), "secret"},
		{"empty ignored origin", with(base, "ignoreOrigins", []string{""}), "ignoreOrigins"},
		{"unknown field", with(base, "colour", "red"), "colour"},
		{"long application", with(base, "application", strings.Repeat("a", 201)), "application"},
		{"not an object", "[1,2]", ""},
		{"payload shape", with(base, "payload", map[string]any{"shape": "skinny"}), "payload.shape"},
		{"payload template syntax", with(base, "payload", map[string]any{"shape": "template", "template": `{"text": {{jsonStr .type}`}), "payload.template"},
		{"payload template missing", with(base, "payload", map[string]any{"shape": "template"}), "payload.template"},
		{"payload template on thin", with(base, "payload", map[string]any{"shape": "thin", "template": "{}"}), "payload.template"},
		{"payload unknown key", with(base, "payload", map[string]any{"shape": "thin", "colour": "red"}), "payload.colour"},
		{"payload not an object", with(base, "payload", "thin"), "payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/v1/endpoints", key, c.body).wantErr(t, 400, c.field)
		})
	}
	if n := len(rc.got()); n != 0 {
		t.Fatalf("refused requests sent %d pings", n)
	}
}

func TestProductionRules(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.AllowHTTP, c.AllowNetworks = false, nil })
	_, key := e.tenant("acme")
	body := with(endpointBody("x", "http://example.com/hook"), "verify", false)
	r := e.do("POST", "/v1/endpoints", key, body).wantErr(t, 400, "url")
	if !strings.Contains(r.str("error"), "https") {
		t.Fatalf("http refusal does not say https: %s", r.Body)
	}
	for _, u := range []string{"https://127.0.0.1/x", "https://[::1]/x", "https://localhost/x", "https://192.168.1.1/x"} {
		e.do("POST", "/v1/endpoints", key, with(body, "url", u)).wantErr(t, 400, "url")
	}
	// A public name with verify:false is stored; the dial re-checks later.
	e.do("POST", "/v1/endpoints", key, with(body, "url", "https://1.1.1.1/hook")).want(t, 201)
}

func TestNamesAreUniquePerTenant(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, a := e.tenant("a")
		_, b := e.tenant("b")
		body := with(endpointBody("orders", "https://1.1.1.1/a"), "verify", false)
		e.do("POST", "/v1/endpoints", a, body).want(t, 201)
		e.do("POST", "/v1/endpoints", a, body).wantErr(t, 409, "name")
		e.do("POST", "/v1/endpoints", b, body).want(t, 201)
	})
}

// Two API servers, each on its own registry Store over one topic, race to
// create the same name: the log decides, one wins, the other hears 409.
func TestNameRaceAcrossServers(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		other := openStore(t, k, e.topic, e.keyring)
		_, second := e.server(other)
		for round := range 5 {
			name := fmt.Sprintf("race-%d", round)
			body := with(endpointBody(name, "https://1.1.1.1/"+name), "verify", false)
			var wg sync.WaitGroup
			got := make([]*resp, 2)
			for i, base := range []string{e.http.URL, second} {
				wg.Go(func() { got[i] = doAt(t, base, "POST", "/v1/endpoints", key, body) })
			}
			wg.Wait()
			codes := []int{got[0].Status, got[1].Status}
			if !(codes[0] == 201 && codes[1] == 409 || codes[0] == 409 && codes[1] == 201) {
				t.Fatalf("round %d: statuses %v, want one 201 and one 409: %s / %s", round, codes, got[0].Body, got[1].Body)
			}
		}
		waitFor(t, func() bool { return len(other.ForTenant(tenantOf(t, e, key))) == 5 })
		if n := len(e.store.ForTenant(tenantOf(t, e, key))); n != 5 {
			t.Fatalf("%d endpoints stored, want 5", n)
		}
	})
}

func TestEndpointPayloadOnCreatePatchAndGet(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	shape := func(r *resp) (string, any) {
		t.Helper()
		p, ok := r.JSON["payload"].(map[string]any)
		if !ok {
			t.Fatalf("no payload object: %s", r.Body)
		}
		return p["shape"].(string), p["template"]
	}
	r := e.do("POST", "/v1/endpoints", key, endpointBody("plain", rc.URL())).want(t, 201)
	if s, tmpl := shape(r); s != "full" || tmpl != nil {
		t.Fatalf("default payload %s %v", s, tmpl)
	}
	slack := `{"text": {{jsonStr .type}}}`
	r = e.do("POST", "/v1/endpoints", key, with(endpointBody("slack", rc.URL()), "maxItems", 1,
		"payload", map[string]any{"shape": "template", "template": slack})).want(t, 201)
	id := r.str("id")
	if s, tmpl := shape(r); s != "template" || tmpl != slack {
		t.Fatalf("create: %s", r.Body)
	}
	if s, tmpl := shape(e.do("GET", "/v1/endpoints/"+id, key, nil).want(t, 200)); s != "template" || tmpl != slack {
		t.Fatalf("get: %s %v", s, tmpl)
	}
	r = e.do("PATCH", "/v1/endpoints/"+id, key, map[string]any{"payload": map[string]any{"shape": "legacy"}, "verify": false}).want(t, 200)
	if s, tmpl := shape(r); s != "legacy" || tmpl != nil {
		t.Fatalf("patch to legacy: %s", r.Body)
	}
	e.do("PATCH", "/v1/endpoints/"+id, key, map[string]any{"payload": map[string]any{"shape": "template", "template": "{{"}, "verify": false}).wantErr(t, 400, "payload.template")
	if s, _ := shape(e.do("GET", "/v1/endpoints/"+id, key, nil).want(t, 200)); s != "legacy" {
		t.Fatalf("a refused patch changed the payload to %s", s)
	}
	r = e.do("PATCH", "/v1/endpoints/"+id, key, map[string]any{"payload": map[string]any{"shape": "full"}, "verify": false}).want(t, 200)
	if s, _ := shape(r); s != "full" {
		t.Fatalf("patch back to full: %s", r.Body)
	}
}
