package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
)

func TestPatchEndpoint(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc, rc2 := newReceiver(t), newReceiver(t)
		id := e.do("POST", "/v1/endpoints", key, with(endpointBody("a", rc.URL()), "application", "erp")).want(t, 201).str("id")
		e.do("POST", "/v1/endpoints", key, with(endpointBody("b", rc.URL()), "verify", false)).want(t, 201)
		path := "/v1/endpoints/" + id

		r := e.do("PATCH", path, key, map[string]any{"active": false, "timeout": "30s", "ignoreOrigins": []string{"api"}}).want(t, 200)
		if r.str("status") != "inactive" || r.JSON["active"] != false || r.str("timeout") != "30s" || r.str("disabledReason") != "inactivated by user" {
			t.Fatalf("patch: %s", r.Body)
		}
		l := e.do("GET", "/v1/endpoints?status=inactive", key, nil).want(t, 200)
		if d := l.JSON["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != id {
			t.Fatalf("status filter: %s", l.Body)
		}
		e.do("PATCH", path, key, map[string]any{"application": "crm"}).wantErr(t, 400, "application")
		e.do("PATCH", path, key, map[string]any{"application": "erp"}).want(t, 200)
		e.do("PATCH", path, key, map[string]any{"scheme": "standard-webhooks"}).wantErr(t, 400, "scheme")
		e.do("PATCH", path, key, map[string]any{"secret": strings.Repeat("s", 32)}).wantErr(t, 400, "secret")
		e.do("PATCH", path, key, map[string]any{"name": "b"}).wantErr(t, 409, "name")
		e.do("PATCH", path, key, map[string]any{"eventTypes": []string{"nope.*"}}).wantErr(t, 400, "eventTypes")
		e.do("PATCH", path, key, map[string]any{"url": "http://10.0.0.1/x"}).wantErr(t, 400, "url")

		// A new URL is pinged first; a refusal changes nothing.
		rc2.setStatus(503)
		e.do("PATCH", path, key, map[string]any{"url": rc2.URL()}).wantErr(t, 400, "url")
		if g := e.do("GET", path, key, nil).want(t, 200); g.str("url") != rc.URL() || g.str("timeout") != "30s" {
			t.Fatalf("refused patch changed the endpoint: %s", g.Body)
		}
		rc2.setStatus(200)
		r = e.do("PATCH", path, key, map[string]any{"url": rc2.URL(), "active": true, "name": "renamed"}).want(t, 200)
		if r.str("url") != rc2.URL() || r.str("status") != "active" || r.str("name") != "renamed" || len(rc2.got()) != 2 {
			t.Fatalf("patch with new url: %s (pings %d)", r.Body, len(rc2.got()))
		}
	})
}

func TestRotateHooklineSecret(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		c := e.do("POST", "/v1/endpoints", key, endpointBody("a", rc.URL())).want(t, 201)
		id, old := c.str("id"), c.str("secret")
		path := "/v1/endpoints/" + id

		e.do("POST", path+"/rotate-secret", key, map[string]any{"overlap": "1h"}).wantErr(t, 400, "overlap")
		r := e.do("POST", path+"/rotate-secret", key, nil).want(t, 200)
		fresh := r.str("secret")
		if fresh == "" || fresh == old || r.JSON["rotatedUntil"] != nil {
			t.Fatalf("rotate: %s", r.Body)
		}
		if g := e.do("GET", path, key, nil).want(t, 200); bytes.Contains(g.Body, []byte(fresh)) || bytes.Contains(g.Body, []byte(old)) {
			t.Fatal("GET shows a secret after rotation")
		}
		// The next delivery (a test ping is signed exactly like one) uses the new secret only.
		tr := e.do("POST", path+"/test", key, nil).want(t, 200)
		if tr.JSON["ok"] != true || tr.JSON["status"] != float64(204) {
			t.Fatalf("test: %s", tr.Body)
		}
		p := rc.got()[len(rc.got())-1]
		if !hooklineSigned(p, fresh) || hooklineSigned(p, old) {
			t.Fatal("delivery after rotation not signed with the new secret alone")
		}
		// Own secret.
		own := strings.Repeat("k", 40)
		e.do("POST", path+"/rotate-secret", key, map[string]any{"secret": own}).want(t, 200)
		e.do("POST", path+"/test", key, nil).want(t, 200)
		if !hooklineSigned(rc.got()[len(rc.got())-1], own) {
			t.Fatal("own rotated secret not used")
		}
		e.do("POST", path+"/rotate-secret", key, map[string]any{"secret": "short"}).wantErr(t, 400, "secret")
	})
}

func TestRotateStandardWebhooksOverlap(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		rc := newReceiver(t)
		c := e.do("POST", "/v1/endpoints", key, with(endpointBody("std", rc.URL()), "scheme", "standard-webhooks")).want(t, 201)
		id, old := c.str("id"), c.str("secret")
		if n := standardSigned(t, rc.got()[0], old); n != 1 {
			t.Fatalf("create ping: %d valid signatures", n)
		}
		path := "/v1/endpoints/" + id
		before := time.Now()
		r := e.do("POST", path+"/rotate-secret", key, nil).want(t, 200)
		fresh := r.str("secret")
		until, err := time.Parse(time.RFC3339Nano, r.str("rotatedUntil"))
		if err != nil || until.Sub(before) < 23*time.Hour || until.Sub(before) > 25*time.Hour {
			t.Fatalf("default overlap is not 24 h: %s", r.Body)
		}
		e.do("POST", path+"/test", key, nil).want(t, 200)
		p := rc.got()[len(rc.got())-1]
		if standardSigned(t, p, fresh) != 1 || standardSigned(t, p, old) != 1 || len(strings.Fields(p.Header.Get("webhook-signature"))) != 2 {
			t.Fatalf("during the overlap both secrets must sign: %q", p.Header.Get("webhook-signature"))
		}
		// Overlap 0: the new one alone.
		r = e.do("POST", path+"/rotate-secret", key, map[string]any{"overlap": "0s"}).want(t, 200)
		newest := r.str("secret")
		e.do("POST", path+"/test", key, nil).want(t, 200)
		p = rc.got()[len(rc.got())-1]
		if standardSigned(t, p, newest) != 1 || standardSigned(t, p, fresh) != 0 {
			t.Fatalf("overlap 0: %q", p.Header.Get("webhook-signature"))
		}
		e.do("POST", path+"/rotate-secret", key, map[string]any{"overlap": "720h"}).wantErr(t, 400, "overlap")
		e.do("POST", path+"/rotate-secret", key, map[string]any{"overlap": 5}).wantErr(t, 400, "overlap")
	})
}

func TestTestPingReportsFailure(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	id := e.do("POST", "/v1/endpoints", key, endpointBody("a", rc.URL())).want(t, 201).str("id")
	rc.setStatus(503)
	r := e.do("POST", "/v1/endpoints/"+id+"/test", key, nil).want(t, 200)
	if r.JSON["ok"] != false || r.JSON["status"] != float64(503) || !strings.Contains(r.str("error"), "503") {
		t.Fatalf("test of a failing receiver: %s", r.Body)
	}
	if _, ok := r.JSON["latencyMs"].(float64); !ok {
		t.Fatalf("no latency: %s", r.Body)
	}
}

func TestDeleteEndpoint(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, key := e.tenant("acme")
		id := e.do("POST", "/v1/endpoints", key, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201).str("id")
		e.do("DELETE", "/v1/endpoints/"+id, key, nil).want(t, 204)
		e.do("GET", "/v1/endpoints/"+id, key, nil).want(t, 404)
		e.do("DELETE", "/v1/endpoints/"+id, key, nil).want(t, 404)
		// The name is free again.
		e.do("POST", "/v1/endpoints", key, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201)
	})
}

func TestListEndpointsPages(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	var want []string
	for i := range 7 {
		id := e.do("POST", "/v1/endpoints", key, with(endpointBody(fmt.Sprintf("e%d", i), "https://1.1.1.1/x"), "verify", false)).want(t, 201).str("id")
		want = append(want, id)
	}
	var got []string
	cursor, pages := "", 0
	for {
		r := e.do("GET", "/v1/endpoints?limit=3&cursor="+cursor, key, nil).want(t, 200)
		pages++
		for _, d := range r.JSON["data"].([]any) {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		if cursor = r.str("nextCursor"); cursor == "" {
			break
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages %v, want 3 pages in creation order %v", pages, got, want)
	}
	e.do("GET", "/v1/endpoints?limit=0", key, nil).wantErr(t, 400, "limit")
	e.do("GET", "/v1/endpoints?limit=x", key, nil).wantErr(t, 400, "limit")
	e.do("GET", "/v1/endpoints?status=paused", key, nil).wantErr(t, 400, "status")
}

// Every tenant path answers another tenant's ids with 404, and changes
// nothing.
func TestTenantIsolation(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, a := e.tenant("a")
		_, b := e.tenant("b")
		rc := newReceiver(t)
		c := e.do("POST", "/v1/endpoints", a, endpointBody("mine", rc.URL())).want(t, 201)
		id := c.str("id")
		pings := len(rc.got())
		p := "/v1/endpoints/" + id
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", p, nil},
			{"PATCH", p, map[string]any{"name": "stolen"}},
			{"DELETE", p, nil},
			{"POST", p + "/rotate-secret", nil},
			{"POST", p + "/test", nil},
			{"GET", p + "/deliveries", nil},
			{"GET", p + "/health", nil},
			{"POST", p + "/replay", map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}},
		} {
			r := e.do(req.method, req.path, b, req.body)
			if r.Status != 404 && r.Status != 501 {
				t.Fatalf("%s %s with another tenant's key: %d %s", req.method, req.path, r.Status, r.Body)
			}
			if bytes.Contains(r.Body, []byte("mine")) || bytes.Contains(r.Body, []byte(rc.URL())) {
				t.Fatalf("%s %s leaked data: %s", req.method, req.path, r.Body)
			}
		}
		if l := e.do("GET", "/v1/endpoints", b, nil).want(t, 200); len(l.JSON["data"].([]any)) != 0 {
			t.Fatalf("b lists a's endpoint: %s", l.Body)
		}
		g := e.do("GET", p, a, nil).want(t, 200)
		if g.str("name") != "mine" || len(rc.got()) != pings {
			t.Fatalf("another tenant changed or pinged the endpoint: %s", g.Body)
		}
	})
}
