package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

func TestIngestPublishesForTheKeysTenant(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 1)
		p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: topic, MaxEventBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		e := newEnv(t, k, func(c *api.Config) { c.Publisher = p })
		tenant, key := e.tenant("acme")
		task := map[string]any{"task": map[string]any{"id": "t1", "title": "Ducts", "tenantId": "leak"}}
		r := e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "eventId": "task:t1:1", "data": task}).want(t, 202)
		if r.str("eventId") != "task:t1:1" {
			t.Fatalf("publish: %s", r.Body)
		}
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "tenantId": tenant, "data": task}).want(t, 202)

		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "tenantId": "t_other", "data": task}).wantErr(t, 400, "/tenantId")
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.exploded", "data": task}).wantErr(t, 400, "/type")
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "data": map[string]any{"task": map[string]any{"title": "no id"}}}).wantErr(t, 400, "/data/task/id")
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "data": map[string]any{"task": map[string]any{"id": 5}}}).wantErr(t, 400, "/data/task/id")
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "data": task, "colour": "red"}).wantErr(t, 400, "/colour")
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "createdUtc": "yesterday", "data": task}).wantErr(t, 400, "/createdUtc")
		big := map[string]any{"task": map[string]any{"id": "t2", "title": strings.Repeat("x", 5000)}}
		e.do("POST", "/v1/events", key, map[string]any{"type": "task.created", "data": big}).wantErr(t, 413, "/data")

		recs := k.ReadAll(t, topic, 2, 30*time.Second)
		if len(recs) != 2 {
			t.Fatalf("%d records on the topic, want exactly the 2 accepted", len(recs))
		}
		for _, rec := range recs {
			var env map[string]any
			if err := json.Unmarshal(rec.Value, &env); err != nil || env["tenantId"] != tenant || bytes.Contains(rec.Value, []byte("leak")) {
				t.Fatalf("record: %s", rec.Value)
			}
		}
	})
}

func TestEventTypesListTheCatalog(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	r := e.do("GET", "/v1/event-types", key, nil).want(t, 200)
	types := r.JSON["data"].([]any)
	if len(types) != 9 {
		t.Fatalf("%d event types, want the catalog's 9", len(types))
	}
	for _, x := range types {
		m := x.(map[string]any)
		schema, _ := m["schema"].(map[string]any)
		if m["description"] == "" || schema["type"] != "object" {
			t.Fatalf("event type without description or schema: %v", m)
		}
	}
}

func TestOversizeBodies(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.Publisher = &producer.Producer{} })
	_, key := e.tenant("acme")
	huge := []byte(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`)
	for _, path := range []string{"/v1/endpoints", "/v1/events", "/v1/tenants"} {
		k := key
		if path == "/v1/tenants" {
			k = e.operator
		}
		e.do("POST", path, k, huge).wantErr(t, 413, "")
	}
	id := e.do("POST", "/v1/endpoints", key, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201).str("id")
	e.do("PATCH", "/v1/endpoints/"+id, key, huge).wantErr(t, 413, "")
	e.do("POST", "/v1/endpoints/"+id+"/rotate-secret", key, huge).wantErr(t, 413, "")
}

// replayRecorder stands in for the lead's Replayer: it records the calls,
// so the test checks what the routes pass on and how they map errors.
type replayRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *replayRecorder) RetryNow(_ context.Context, tenant, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "retry "+tenant+" "+id)
	switch id {
	case "done":
		return fmt.Errorf("delivery %s was delivered: %w", id, api.ErrConflict)
	case "expired":
		return fmt.Errorf("read delivery %s: %w", id, replay.ErrGone)
	case "unknown":
		return fmt.Errorf("%w: %s", replay.ErrNotFound, id)
	}
	return nil
}

func (r *replayRecorder) Start(_ context.Context, tenant, ep string, since, until time.Time, rate float64) (replay.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("replay %s %s %g", tenant, ep, rate))
	now := time.Now().UTC()
	return replay.Job{ID: "job1", TenantID: tenant, EndpointID: ep, Since: since, Until: until, Rate: rate, State: replay.JobRunning, Started: now, Updated: now}, nil
}

func (r *replayRecorder) Job(_ context.Context, tenant, id string) (replay.Job, error) {
	if id != "job1" {
		return replay.Job{}, fmt.Errorf("%w: replay %s", replay.ErrNotFound, id)
	}
	now := time.Now().UTC()
	return replay.Job{ID: id, TenantID: tenant, EndpointID: "ep", State: replay.JobDone, Since: now.Add(-time.Hour), Until: now, Rate: 50, Done: 3, Total: 3, Started: now, Updated: now, Finished: now}, nil
}

// The replay package's jobs are the Replayer the server is wired with.
var _ api.Replayer = (*replay.Jobs)(nil)

func TestRetryAndReplayRoutes(t *testing.T) {
	rep := &replayRecorder{}
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.Replayer = rep })
	tenant, key := e.tenant("acme")
	_, other := e.tenant("other")
	id := e.do("POST", "/v1/endpoints", key, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201).str("id")
	e.do("POST", "/v1/deliveries/abc/retry", key, nil).want(t, 202)
	e.do("POST", "/v1/deliveries/done/retry", key, nil).want(t, 409)
	e.do("POST", "/v1/deliveries/expired/retry", key, nil).want(t, 409)
	e.do("POST", "/v1/deliveries/unknown/retry", key, nil).want(t, 404)
	since := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	r := e.do("POST", "/v1/endpoints/"+id+"/replay", key, map[string]any{"since": since, "rate": 10}).want(t, 202)
	if r.str("id") != "job1" || r.Header.Get("Location") != "/v1/replays/job1" {
		t.Fatalf("replay: %s", r.Body)
	}
	e.do("POST", "/v1/endpoints/"+id+"/replay", key, map[string]any{}).wantErr(t, 400, "since")
	e.do("POST", "/v1/endpoints/"+id+"/replay", key, map[string]any{"since": since, "rate": 0}).wantErr(t, 400, "rate")
	e.do("POST", "/v1/endpoints/"+id+"/replay", key, map[string]any{"since": "last week"}).wantErr(t, 400, "since")
	e.do("POST", "/v1/endpoints/"+id+"/replay", other, map[string]any{"since": since}).want(t, 404)
	e.do("GET", "/v1/replays/job1", key, nil).want(t, 200)
	e.do("GET", "/v1/replays/nope", key, nil).want(t, 404)
	want := []string{"retry " + tenant + " abc", "retry " + tenant + " done", "retry " + tenant + " expired", "retry " + tenant + " unknown",
		"replay " + tenant + " " + id + " 10"}
	if strings.Join(rep.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls %q, want %q", rep.calls, want)
	}
}
