package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
)

// dataIDs lists the ids of a list answer's data.
func dataIDs(t testing.TB, r *resp) []string {
	t.Helper()
	var ids []string
	for _, d := range r.JSON["data"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

// keyByID finds one key of a key list answer.
func keyByID(r *resp, id string) map[string]any {
	for _, d := range r.JSON["data"].([]any) {
		if k := d.(map[string]any); k["id"] == id {
			return k
		}
	}
	return nil
}

// TestKeysListCreateRevoke: a tenant lists, creates and revokes its own
// keys and the operator any tenant's; lists never carry a token; a
// revoked key is refused; another tenant's key is not found, for the
// tenant and for the operator under the wrong tenant.
func TestKeysListCreateRevoke(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		acme, a1 := e.tenant("acme")
		globex, b1 := e.tenant("globex")
		tokens := []string{a1, b1}

		c := e.do("POST", "/v1/keys", a1, map[string]any{"name": "rotation", "expiresIn": "720h"}).want(t, 201)
		a2, a2id := c.str("token"), c.str("id")
		tokens = append(tokens, a2)
		if c.str("prefix") != a2[:8] || c.str("tenantId") != acme {
			t.Fatalf("created key: prefix %q of token %q..., tenant %q", c.str("prefix"), a2[:8], c.str("tenantId"))
		}
		exp, err := time.Parse(time.RFC3339Nano, c.str("expiresAt"))
		if err != nil || time.Until(exp) < 719*time.Hour || time.Until(exp) > 721*time.Hour {
			t.Fatalf("expiresIn 720h gave expiresAt %q", c.str("expiresAt"))
		}
		e.do("GET", "/v1/endpoints", a2, nil).want(t, 200)
		at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		c3 := e.do("POST", "/v1/tenants/"+acme+"/keys", e.operator, map[string]any{"name": "deploy", "expiresAt": at.Format(time.RFC3339)}).want(t, 201)
		tokens = append(tokens, c3.str("token"))
		if got, _ := time.Parse(time.RFC3339, c3.str("expiresAt")); !got.Equal(at) {
			t.Fatalf("expiresAt %s came back as %s", at, c3.str("expiresAt"))
		}

		own := e.do("GET", "/v1/keys", a1, nil).want(t, 200)
		byOp := e.do("GET", "/v1/tenants/"+acme+"/keys", e.operator, nil).want(t, 200)
		if ids := dataIDs(t, own); len(ids) != 3 || ids[1] != a2id || strings.Join(ids, ",") != strings.Join(dataIDs(t, byOp), ",") {
			t.Fatalf("acme lists %v, the operator %v", ids, dataIDs(t, byOp))
		}
		if got := keyByID(own, a2id); got["name"] != "rotation" || got["prefix"] != a2[:8] || got["expiresAt"] == nil {
			t.Fatalf("listed key: %v", got)
		}
		other := e.do("GET", "/v1/keys", b1, nil).want(t, 200)
		if ids := dataIDs(t, other); len(ids) != 1 || keyByID(other, a2id) != nil {
			t.Fatalf("globex lists %v", ids)
		}
		for _, body := range [][]byte{own.Body, byOp.Body, other.Body} {
			for _, tok := range tokens {
				if strings.Contains(string(body), tok) || strings.Contains(string(body), tok[8:20]) {
					t.Fatalf("a key list carries a token: %s", body)
				}
			}
		}

		// Another tenant's key is not found, and stays valid.
		e.do("DELETE", "/v1/keys/"+a2id, b1, nil).want(t, 404)
		e.do("DELETE", "/v1/tenants/"+globex+"/keys/"+a2id, e.operator, nil).want(t, 404)
		e.do("DELETE", "/v1/keys/key_0000000000000000", b1, nil).want(t, 404)
		e.do("DELETE", "/v1/tenants/t_nope/keys/"+a2id, e.operator, nil).want(t, 404)
		e.do("GET", "/v1/tenants/t_nope/keys", e.operator, nil).want(t, 404)
		e.do("GET", "/v1/endpoints", a2, nil).want(t, 200)

		// Revoked by the tenant, then by the operator: refused at once.
		e.do("DELETE", "/v1/keys/"+a2id, a1, nil).want(t, 204)
		e.do("GET", "/v1/endpoints", a2, nil).wantErr(t, 401, "Authorization")
		e.do("DELETE", "/v1/keys/"+a2id, a1, nil).want(t, 404)
		e.do("DELETE", "/v1/tenants/"+acme+"/keys/"+c3.str("id"), e.operator, nil).want(t, 204)
		e.do("GET", "/v1/endpoints", c3.str("token"), nil).wantErr(t, 401, "Authorization")
		if ids := dataIDs(t, e.do("GET", "/v1/keys", a1, nil).want(t, 200)); len(ids) != 1 {
			t.Fatalf("after two revocations acme lists %v", ids)
		}
		// A tenant may revoke the key it calls with.
		self := dataIDs(t, e.do("GET", "/v1/keys", b1, nil).want(t, 200))[0]
		e.do("DELETE", "/v1/keys/"+self, b1, nil).want(t, 204)
		e.do("GET", "/v1/keys", b1, nil).wantErr(t, 401, "Authorization")

		for _, le := range e.logs.All() {
			line, _ := json.Marshal(map[string]any{"msg": le.Message, "fields": le.ContextMap()})
			for _, tok := range tokens {
				if strings.Contains(string(line), tok) || strings.Contains(string(line), tok[8:20]) {
					t.Fatalf("a log line carries a token: %s", line)
				}
			}
		}
	})
}

// TestCreateKeyRefusals: a malformed, past or doubled expiry, a wrong
// name and a body over the limit are refused naming the field; nothing is
// created.
func TestCreateKeyRefusals(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.MaxBodyBytes = 4096 })
	acme, key := e.tenant("acme")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"expiresIn": "soon"}, "expiresIn"},
		{map[string]any{"expiresIn": "-1h"}, "expiresIn"},
		{map[string]any{"expiresIn": "0s"}, "expiresIn"},
		{map[string]any{"expiresIn": 3600}, "expiresIn"},
		{map[string]any{"expiresAt": "tomorrow"}, "expiresAt"},
		{map[string]any{"expiresAt": "2030-01-01"}, "expiresAt"},
		{map[string]any{"expiresAt": past}, "expiresAt"},
		{map[string]any{"expiresIn": "1h", "expiresAt": "2030-01-01T00:00:00Z"}, "expiresAt"},
		{map[string]any{"name": " "}, "name"},
		{map[string]any{"name": 5}, "name"},
		{map[string]any{"ExpiresIn": "1h"}, "ExpiresIn"},
		{map[string]any{"token": "hlk_mine"}, "token"},
	} {
		e.do("POST", "/v1/keys", key, tc.body).wantErr(t, 400, tc.field)
		e.do("POST", "/v1/tenants/"+acme+"/keys", e.operator, tc.body).wantErr(t, 400, tc.field)
	}
	e.do("POST", "/v1/keys", key, map[string]any{"name": strings.Repeat("n", 5000)}).want(t, 413)
	if ids := dataIDs(t, e.do("GET", "/v1/keys", key, nil).want(t, 200)); len(ids) != 1 {
		t.Fatalf("refused creates made keys: %v", ids)
	}
}

// TestExpiredKeyRefused: a key is served until its expiry and answered
// 401 after it; it is still listed, with its expiry.
func TestExpiredKeyRefused(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		acme, _ := e.tenant("acme")
		c := e.do("POST", "/v1/tenants/"+acme+"/keys", e.operator, map[string]any{"name": "short", "expiresIn": "1500ms"}).want(t, 201)
		tok := c.str("token")
		until, _ := time.Parse(time.RFC3339Nano, c.str("expiresAt"))
		e.do("GET", "/v1/endpoints", tok, nil).want(t, 200)
		time.Sleep(time.Until(until) + 10*time.Millisecond)
		e.do("GET", "/v1/endpoints", tok, nil).wantErr(t, 401, "Authorization")
		l := e.do("GET", "/v1/tenants/"+acme+"/keys", e.operator, nil).want(t, 200)
		if got := keyByID(l, c.str("id")); got == nil || got["expiresAt"] != c.str("expiresAt") {
			t.Fatalf("the expired key is not listed with its expiry: %s", l.Body)
		}
	})
}

// TestRevokedKeyRefusedByEveryProcessWithinASecond: two API servers on
// two Stores following one topic; a key revoked through one is answered
// 401 by the other within a second.
func TestRevokedKeyRefusedByEveryProcessWithinASecond(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		_, url2 := e.server(openStore(t, k, e.topic, e.keyring))
		_, key := e.tenant("acme")
		id := dataIDs(t, e.do("GET", "/v1/keys", key, nil).want(t, 200))[0]
		waitFor(t, func() bool { return doAt(t, url2, "GET", "/v1/endpoints", key, nil).Status == 200 })

		e.do("DELETE", "/v1/keys/"+id, key, nil).want(t, 204)
		revoked := time.Now()
		e.do("GET", "/v1/endpoints", key, nil).wantErr(t, 401, "Authorization")
		for doAt(t, url2, "GET", "/v1/endpoints", key, nil).Status != 401 {
			if time.Since(revoked) > time.Second {
				t.Fatal("the other API process still serves the revoked key after 1 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("the other process refused the revoked key %v after the revocation answered", time.Since(revoked).Round(time.Millisecond))
	})
}

// TestKeyLastUsedAtMoves: a key never used lists no lastUsedAt; a request
// with it sets lastUsedAt, and a request after the use interval moves it.
// The operator's requests are no tenant key's use.
func TestKeyLastUsedAtMoves(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		const every = 300 * time.Millisecond
		e := &env{t: t, k: k, topic: testbackend.UniqueName(t), keyring: randomKey(t), operator: "op_" + randomKey(t)}
		kr, _ := registry.ParseKeyring(e.keyring)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := registry.Open(ctx, registry.Config{Brokers: k.Brokers, Topic: e.topic, Keyring: kr, KeyUseInterval: every})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		e.store = st
		e.srv, _ = e.server(st)
		acme, key := e.tenant("acme")
		list := "/v1/tenants/" + acme + "/keys"
		lastUsed := func() time.Time {
			v, _ := e.do("GET", list, e.operator, nil).want(t, 200).JSON["data"].([]any)[0].(map[string]any)["lastUsedAt"].(string)
			at, _ := time.Parse(time.RFC3339Nano, v)
			return at
		}
		if r := e.do("GET", list, e.operator, nil).want(t, 200); strings.Contains(string(r.Body), "lastUsedAt") {
			t.Fatalf("a key never used: %s", r.Body)
		}
		before := time.Now()
		e.do("GET", "/v1/endpoints", key, nil).want(t, 200)
		waitFor(t, func() bool { return !lastUsed().IsZero() })
		first := lastUsed()
		if first.Before(before.Add(-time.Millisecond)) || first.After(time.Now()) {
			t.Fatalf("lastUsedAt %v is not the request's time (after %v)", first, before)
		}
		time.Sleep(every)
		e.do("GET", "/v1/endpoints", key, nil).want(t, 200)
		waitFor(t, func() bool { return lastUsed().After(first) })
	})
}

// TestAuthorizationWithoutBearer: the key alone in Authorization is
// accepted like "Bearer <key>", for tenants and the operator; any other
// value is 401.
func TestAuthorizationWithoutBearer(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	for _, tc := range []struct {
		url, auth string
		want      int
	}{
		{"/v1/endpoints", key, 200},
		{"/v1/endpoints", "bearer " + key, 200},
		{"/v1/endpoints", "BEARER  " + key, 200},
		{"/v1/tenants", e.operator, 200},
		{"/v1/endpoints", key + "x", 401},
		{"/v1/endpoints", key[:len(key)-1], 401},
		{"/v1/endpoints", "Basic " + key, 401},
		{"/v1/endpoints", "Token " + key, 401},
		{"/v1/endpoints", key + " " + key, 401},
		{"/v1/endpoints", "Bearer", 401},
		{"/v1/tenants", e.operator + "x", 401},
	} {
		if got := doRaw(t, e.http.URL+tc.url, tc.auth); got != tc.want {
			t.Errorf("GET %s with Authorization %q...: %d, want %d", tc.url, tc.auth[:min(len(tc.auth), 12)], got, tc.want)
		}
	}
}

// TestListTenantsPages: the operator pages through every tenant, oldest
// first; a tenant key may not list tenants.
func TestListTenantsPages(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	var want []string
	var key string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		var id string
		id, key = e.tenant(name)
		want = append(want, id)
	}
	var got []string
	for cursor, pages := "", 0; ; pages++ {
		r := e.do("GET", "/v1/tenants?limit=2&cursor="+cursor, e.operator, nil).want(t, 200)
		got = append(got, dataIDs(t, r)...)
		if cursor = r.str("nextCursor"); cursor == "" {
			if pages != 2 {
				t.Fatalf("%d pages of 2 for 5 tenants", pages+1)
			}
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tenants listed %v, want %v", got, want)
	}
	e.do("GET", "/v1/tenants", key, nil).wantErr(t, 403, "Authorization")
	e.do("GET", "/v1/tenants?limit=0", e.operator, nil).wantErr(t, 400, "limit")
}
