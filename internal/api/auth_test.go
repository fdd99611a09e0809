package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
)

func TestKeysAndRoles(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		e := newEnv(t, k)
		id, key := e.tenant("acme")
		if !strings.HasPrefix(key, "hlk_") {
			t.Fatalf("token %q...", key[:4])
		}
		e.do("GET", "/v1/endpoints", key, nil).want(t, 200)

		// Missing or invalid keys.
		e.do("GET", "/v1/endpoints", "", nil).wantErr(t, 401, "Authorization")
		e.do("GET", "/v1/endpoints", "hlk_not-a-key", nil).wantErr(t, 401, "Authorization")
		e.do("POST", "/v1/tenants", "", map[string]any{"name": "x"}).wantErr(t, 401, "Authorization")
		e.do("POST", "/v1/tenants", e.operator+"x", map[string]any{"name": "x"}).wantErr(t, 401, "Authorization")
		basic := doRaw(t, e.http.URL+"/v1/endpoints", "Basic "+key)
		if basic != 401 {
			t.Fatalf("Basic auth answered %d", basic)
		}

		// Roles: tenant keys cannot administer; the operator is no tenant.
		e.do("POST", "/v1/tenants", key, map[string]any{"name": "x"}).wantErr(t, 403, "Authorization")
		e.do("POST", "/v1/tenants/"+id+"/keys", key, nil).wantErr(t, 403, "Authorization")
		e.do("GET", "/v1/endpoints", e.operator, nil).wantErr(t, 403, "Authorization")

		// Operator errors.
		e.do("POST", "/v1/tenants/t_nope/keys", e.operator, nil).want(t, 404)
		e.do("POST", "/v1/tenants", e.operator, map[string]any{}).wantErr(t, 400, "name")
		e.do("POST", "/v1/tenants", e.operator, map[string]any{"name": 5}).wantErr(t, 400, "name")
		e.do("POST", "/v1/tenants", e.operator, map[string]any{"name": "a", "plan": "x"}).wantErr(t, 400, "plan")

		// A tenant named by its events' tenantId; that id only once.
		tid := "t-" + testbackend.UniqueName(t)[:12]
		if got := e.do("POST", "/v1/tenants", e.operator, map[string]any{"id": tid, "name": "Acme"}).want(t, 201).str("id"); got != tid {
			t.Fatalf("tenant created as %q, want %q", got, tid)
		}
		e.do("POST", "/v1/tenants", e.operator, map[string]any{"id": tid, "name": "Again"}).wantErr(t, 409, "id")
		e.do("POST", "/v1/tenants", e.operator, map[string]any{"id": "a b", "name": "x"}).wantErr(t, 400, "id")

		// A second key of the same tenant works; a key without a name is "default".
		k2 := e.do("POST", "/v1/tenants/"+id+"/keys", e.operator, nil).want(t, 201)
		if k2.str("name") != "default" || k2.str("tenantId") != id {
			t.Fatalf("key: %s", k2.Body)
		}
		e.do("GET", "/v1/endpoints", k2.str("token"), nil).want(t, 200)
	})
}

func doRaw(t *testing.T, url, authorization string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestNoOperatorKeyMeansNoOperator(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.OperatorKey = "" })
	e.do("POST", "/v1/tenants", "anything", map[string]any{"name": "x"}).wantErr(t, 401, "Authorization")
}

func TestRateLimitPerKey(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.RatePerSecond, c.RateBurst, c.Now = 0.5, 2, clock })
	_, a := e.tenant("a") // two operator requests: its whole burst
	now = now.Add(10 * time.Second)
	_, b := e.tenant("b")
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	r := e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
	if got := r.Header.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2 (one token every 2 s)", got)
	}
	// Another key has its own bucket.
	e.do("GET", "/v1/endpoints", b, nil).want(t, 200)
	now = now.Add(2 * time.Second)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 200)
	e.do("GET", "/v1/endpoints", a, nil).want(t, 429)
}

func TestRunServesUntilCancelled(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	srv, err := api.New(api.Config{Registry: e.store, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r := doAt(t, "http://"+srv.Addr(), "GET", "/healthz", "", nil).want(t, 200)
	if r.str("status") != "ok" {
		t.Fatalf("healthz: %s", r.Body)
	}
	doc := doAt(t, "http://"+srv.Addr(), "GET", "/v1/openapi.yaml", "", nil).want(t, 200)
	if string(doc.Body) != string(api.OpenAPI()) {
		t.Fatal("served document differs from the embedded one")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
