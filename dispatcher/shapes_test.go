package dispatcher_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// bodies waits until s's 2xx posts hold n events and returns each event's
// body (an array's elements, or a single-event body) in arrival order.
func bodies(t *testing.T, s *testbackend.Receiver, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		posts, bad := s.Snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver rejected deliveries: %v", bad)
		}
		var out []string
		for _, p := range posts {
			if p.Status/100 != 2 {
				continue
			}
			if !bytes.HasPrefix(p.Body, []byte("[")) {
				out = append(out, string(p.Body))
				continue
			}
			var elems []json.RawMessage
			if err := json.Unmarshal(p.Body, &elems); err != nil {
				t.Fatalf("batch body is not a JSON array: %s", p.Body)
			}
			for _, e := range elems {
				out = append(out, string(e))
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) != n {
				t.Fatalf("got %d event bodies in %d posts, want %d: %q", len(out), len(posts), n, out)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func short(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// shapeEvents are the events every shape is shown on: one object, so one
// partition and one order.
func shapeEvents() []producer.Event {
	at := "2026-04-30T14:22:01.456Z"
	return []producer.Event{
		{Type: "task.created", EventID: "task:t1:1", TenantID: "t-s", CreatedUTC: at,
			Data: map[string]any{"task": map[string]any{"id": "t1", "title": "Ducts", "status": "open", "projectId": "p9"}}},
		{Type: "task.updated", EventID: "task:t1:2", TenantID: "t-s", CreatedUTC: at,
			Data: map[string]any{"task": map[string]any{"id": "t1", "title": "Ducts", "status": "done", "projectId": "p9", "assigneeId": "m4"},
				"before": map[string]any{"id": "t1", "status": "open"}}},
		{Type: "task.deleted", EventID: "task:t1:3", TenantID: "t-s", CreatedUTC: at,
			Data: map[string]any{"task": map[string]any{"id": "t1", "projectId": "p9"}}},
	}
}

// TestPayloadShapes sends the same events to an endpoint of each shape:
// full bodies are the record values byte for byte, thin and legacy bodies
// are exact, and a template that fails on one event (the deleted task has
// no title) dead-letters that event alone, with the error, while the
// batch's other events and the other endpoints get theirs.
func TestPayloadShapes(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		names := []string{"full", "full-single", "thin", "legacy", "template", "template-single"}
		sinks := map[string]*testbackend.Receiver{}
		var eps []*endpoints.Endpoint
		titled := `{"text": {{jsonStr (printf "%s %s" .type .data.task.title)}}}`
		for _, name := range names {
			sinks[name] = newSink(t, "X-Hookline")
			eps = append(eps, endpointFor(name, "t-s", sinks[name], func(e *endpoints.Endpoint) {
				e.MaxItems, e.MaxWait = 10, endpoints.Duration(300*time.Millisecond)
				if strings.HasSuffix(name, "-single") {
					e.MaxItems = 1
				}
				switch shape, _, _ := strings.Cut(name, "-"); shape {
				case "thin", "legacy":
					e.Payload = &payload.Spec{Shape: shape}
				case "template":
					e.Payload = &payload.Spec{Shape: payload.ShapeTemplate, Template: titled}
				}
			}))
		}
		f := newFixture(t, b, eps, nil)
		f.publish(t, shapeEvents()...)
		values := f.read(t, f.topics.Events, 3)
		got := map[string][]string{}
		for _, name := range names {
			n := 3
			if strings.HasPrefix(name, "template") {
				n = 2
			}
			got[name] = bodies(t, sinks[name], n)
			for _, body := range got[name] {
				t.Logf("%-15s %s", name+":", short(body))
			}
		}
		for i, r := range values {
			for _, name := range []string{"full", "full-single"} {
				if got[name][i] != string(r.Value) {
					t.Errorf("%s body %d is not the record value:\n got %s\nwant %s", name, i, got[name][i], r.Value)
				}
			}
		}
		posts, _ := sinks["full-single"].Snapshot()
		for i, p := range posts {
			if !bytes.Equal(p.Body, values[i].Value) {
				t.Errorf("single full body %d changed:\n got %s\nwant %s", i, p.Body, values[i].Value)
			}
		}
		want := map[string][]string{
			"thin": {
				`{"type":"task.created","eventId":"task:t1:1","tenantId":"t-s","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p9"}}}`,
				`{"type":"task.updated","eventId":"task:t1:2","tenantId":"t-s","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p9","assigneeId":"m4"}}}`,
				`{"type":"task.deleted","eventId":"task:t1:3","tenantId":"t-s","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p9"}}}`,
			},
			"legacy": {
				`{"event":"task.created","occurred_at":"2026-04-30T14:22:01.456Z","data":{"id":"t1","projectId":"p9","status":"open","title":"Ducts"}}`,
				`{"event":"task.updated","occurred_at":"2026-04-30T14:22:01.456Z","data":{"assigneeId":"m4","id":"t1","projectId":"p9","status":"done","title":"Ducts"}}`,
				`{"event":"task.deleted","occurred_at":"2026-04-30T14:22:01.456Z","data":{"id":"t1","projectId":"p9"}}`,
			},
			"template":        {`{"text":"task.created Ducts"}`, `{"text":"task.updated Ducts"}`},
			"template-single": {`{"text":"task.created Ducts"}`, `{"text":"task.updated Ducts"}`},
		}
		for name, w := range want {
			if !slices.Equal(got[name], w) {
				t.Errorf("%s bodies:\n got %q\nwant %q", name, got[name], w)
			}
		}
		dead := f.read(t, f.topics.Dead, 2)
		for _, r := range dead {
			del, err := delivery.FromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("dead letter of %s: %s", del.EndpointID, del.Reason)
			evs := events(t, del.Body)
			if !strings.HasPrefix(del.EndpointID, "template") || del.Items != 1 || len(evs) != 1 || evs[0]["eventId"] != "task:t1:3" {
				t.Errorf("dead letter of %s holds %d items %v", del.EndpointID, del.Items, evs)
			}
			if !strings.Contains(del.Reason, "payload shape failed (template)") || !strings.Contains(del.Reason, `map has no entry for key "title"`) {
				t.Errorf("dead letter reason %q", del.Reason)
			}
		}
		if more := b.ReadAll(t, f.topics.Dead, 3, time.Second); len(more) != 2 {
			t.Errorf("%d dead letters, want 2 (the failing event once per template endpoint)", len(more))
		}
		if st := f.d.Stats(); st.Dead != 2 {
			t.Errorf("stats: %+v", st)
		}
	})
}

// TestShapedBodyIsSealed fails the first attempt of a thin delivery: the
// retry record carries the body that was POSTed, byte for byte, so the
// retrier resends it as sealed rather than shaping again.
func TestShapedBodyIsSealed(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		sink := newSink(t, "X-Hookline")
		sink.SetStatus(func(int) int { return 503 })
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("thin", "t-s", sink, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait, e.Payload = 10, endpoints.Duration(200*time.Millisecond), &payload.Spec{Shape: payload.ShapeThin}
		})}, nil)
		f.publish(t, shapeEvents()...)
		recs := f.read(t, f.retry.Topic(0), 1)
		del, err := delivery.FromRecord(recs[0])
		if err != nil {
			t.Fatal(err)
		}
		posts, _ := sink.Snapshot()
		if len(posts) != 1 || !bytes.Equal(posts[0].Body, del.Body) || del.Items != 3 {
			t.Fatalf("retry record holds %d items %s; the endpoint got %d posts", del.Items, del.Body, len(posts))
		}
		if !bytes.HasPrefix(del.Body, []byte(`[{"type":"task.created","eventId":"task:t1:1","tenantId":"t-s","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p9"}}},`)) {
			t.Fatalf("retry body is not the thin batch: %s", del.Body)
		}
	})
}
