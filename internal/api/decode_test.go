package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// publishRecorder is a Publisher that keeps what it was given.
type publishRecorder struct {
	mu     sync.Mutex
	events []producer.Event
}

func (p *publishRecorder) Publish(_ context.Context, ev producer.Event) (producer.Published, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
	return producer.Published{EventID: "ev1"}, nil
}

func (p *publishRecorder) published() []producer.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]producer.Event(nil), p.events...)
}

// bodyCase is one request body the API must refuse (bad) naming field,
// and the same request without the fault (ok), which it accepts: the
// fault alone is what was refused.
type bodyCase struct {
	name, method, path, key string
	bad, ok                 string
	field                   string
	status                  int // of ok
}

func runBodyCases(t *testing.T, e *env, cases []bodyCase, wantMsg string) {
	t.Helper()
	for _, c := range cases {
		r := e.do(c.method, c.path, c.key, c.bad).wantErr(t, 400, c.field)
		if msg := r.str("error"); !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: error %q does not say %q", c.name, msg, wantMsg)
		}
	}
}

func acceptBodyCases(t *testing.T, e *env, cases []bodyCase) {
	t.Helper()
	for _, c := range cases {
		e.do(c.method, c.path, c.key, c.ok).want(t, c.status)
	}
}

// TestRepeatedKeysAreRefused: every body the API decodes is refused when
// a key repeats in one object, at the top or nested, with the key's path
// in field; nothing is written, published or replayed.
func TestRepeatedKeysAreRefused(t *testing.T) {
	pub, rep := &publishRecorder{}, &replayRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.Publisher, c.Replayer = pub, rep })
	tenant, key := e.tenant("acme")
	rc := newReceiver(t)
	id := e.do("POST", "/v1/endpoints", key, endpointBody("orders", rc.URL())).want(t, 201).str("id")
	ep := "/v1/endpoints/" + id
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	create := func(name string) string { return `{"name":"` + name + `","url":"` + rc.URL() + `","eventTypes":["*"]` }
	secret := `"` + strings.Repeat("s", 32) + `"`
	cases := []bodyCase{
		{"tenant", "POST", "/v1/tenants", e.operator, `{"id":"t-dup","name":"a","name":"b"}`, `{"id":"t-dup","name":"b"}`, "name", 201},
		{"key", "POST", "/v1/tenants/" + tenant + "/keys", e.operator, `{"name":"a","name":"b"}`, `{"name":"b"}`, "name", 201},
		{"endpoint", "POST", "/v1/endpoints", key, create("n2") + `,"url":"https://1.1.1.1/x"}`, create("n2") + `}`, "url", 201},
		{"endpoint auth", "POST", "/v1/endpoints", key,
			create("n3") + `,"auth":{"type":"header","name":"X-T","value":"a","value":"b"}}`,
			create("n3") + `,"auth":{"type":"header","name":"X-T","value":"b"}}`, "auth.value", 201},
		{"endpoint payload", "POST", "/v1/endpoints", key,
			create("n4") + `,"payload":{"shape":"thin","shape":"legacy"}}`,
			create("n4") + `,"payload":{"shape":"legacy"}}`, "payload.shape", 201},
		{"patch", "PATCH", ep, key, `{"timeout":"5s","timeout":"6s"}`, `{"timeout":"6s"}`, "timeout", 200},
		{"patch escaped twin", "PATCH", ep, key, `{"maxAge":"1h","m\u0061xAge":"2h"}`, `{"maxAge":"2h"}`, "maxAge", 200},
		{"rotate", "POST", ep + "/rotate-secret", key, `{"secret":` + secret + `,"secret":` + secret + `}`, `{"secret":` + secret + `}`, "secret", 200},
		{"replay", "POST", ep + "/replay", key, `{"since":"` + since + `","rate":1,"rate":2}`, `{"since":"` + since + `","rate":2}`, "rate", 202},
		{"event tenant", "POST", "/v1/events", key,
			`{"type":"task.created","tenantId":"` + tenant + `","tenantId":"t_other","data":{"task":{"id":"t1"}}}`,
			`{"type":"task.created","tenantId":"` + tenant + `","data":{"task":{"id":"t1"}}}`, "/tenantId", 202},
		{"event data", "POST", "/v1/events", key,
			`{"type":"task.created","data":{"task":{"id":"t1","title":"x","id":"t2"}}}`,
			`{"type":"task.created","data":{"task":{"id":"t2","title":"x"}}}`, "/data/task/id", 202},
	}
	runBodyCases(t, e, cases, "duplicate key")

	if _, ok := e.store.Tenant("t-dup"); ok {
		t.Error("a tenant was created from a body with a repeated key")
	}
	list := e.do("GET", "/v1/endpoints", key, nil).want(t, 200)
	if eps, _ := list.JSON["data"].([]any); len(eps) != 1 {
		t.Errorf("%d endpoints after refused creates, want the 1 made before: %s", len(eps), list.Body)
	}
	got := e.do("GET", ep, key, nil).want(t, 200)
	if got.str("timeout") != "10s" || got.JSON["maxAge"] != nil {
		t.Errorf("refused patches changed the endpoint: %s", got.Body)
	}
	if n := len(pub.published()); n != 0 || len(rep.calls) != 0 || len(rc.got()) != 1 {
		t.Errorf("after refused requests: %d published, replays %q, %d posts to the receiver (want 0, none, the create's ping)", n, rep.calls, len(rc.got()))
	}

	acceptBodyCases(t, e, cases)
	if evs := pub.published(); len(evs) != 2 || evs[1].Data["task"].(map[string]any)["id"] != "t2" {
		t.Errorf("published %+v", evs)
	}
}

// TestFieldNamesMatchExactly: a key that differs from a field only in
// case is an unknown field, named with its path, alone or beside the
// field it resembles; encoding/json would have taken it for that field.
func TestFieldNamesMatchExactly(t *testing.T) {
	pub := &publishRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.Publisher = pub })
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	id := e.do("POST", "/v1/endpoints", key, endpointBody("orders", rc.URL())).want(t, 201).str("id")
	create := `{"name":"n2","url":"` + rc.URL() + `","eventTypes":["*"]`
	cases := []bodyCase{
		{"beside the field", "POST", "/v1/tenants", e.operator, `{"name":"a","Name":"b"}`, `{"name":"a"}`, "Name", 201},
		{"alone", "POST", "/v1/tenants", e.operator, `{"NAME":"b"}`, `{"name":"b"}`, "NAME", 201},
		{"auth beside", "POST", "/v1/endpoints", key,
			create + `,"auth":{"type":"header","name":"X-T","value":"a","Value":"b"}}`,
			create + `,"auth":{"type":"header","name":"X-T","value":"a"}}`, "auth.Value", 201},
		{"auth alone", "PATCH", "/v1/endpoints/" + id, key, `{"auth":{"Type":"none"}}`, `{"auth":{"type":"none"}}`, "auth.Type", 200},
		{"payload", "PATCH", "/v1/endpoints/" + id, key, `{"payload":{"shape":"thin","Shape":"legacy"}}`, `{"payload":{"shape":"thin"}}`, "payload.Shape", 200},
		{"event beside", "POST", "/v1/events", key,
			`{"type":"task.created","TYPE":"project.created","data":{"task":{"id":"t1"}}}`,
			`{"type":"task.created","data":{"task":{"id":"t1"}}}`, "/TYPE", 202},
		{"event alone", "POST", "/v1/events", key,
			`{"type":"task.created","TenantId":"t_other","data":{"task":{"id":"t1"}}}`,
			`{"type":"task.created","data":{"task":{"id":"t1"}}}`, "/TenantId", 202},
	}
	runBodyCases(t, e, cases, "did you mean")
	if n := len(pub.published()); n != 0 {
		t.Fatalf("%d events published from refused bodies", n)
	}
	acceptBodyCases(t, e, cases)
	// Inside data the keys are the publisher's own: two that differ in
	// case are two fields.
	e.do("POST", "/v1/events", key, `{"type":"task.created","data":{"task":{"id":"t1","Title":"a","title":"b"}}}`).want(t, 202)
}
