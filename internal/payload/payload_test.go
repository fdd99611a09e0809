package payload_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/payload"
)

func encode(t testing.TB, ev envelope.Envelope) []byte {
	t.Helper()
	b, err := envelope.AppendJSON(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events are the same three events every shape is shown on.
func events(t testing.TB) [][]byte {
	return [][]byte{
		encode(t, envelope.Envelope{Type: "task.created", EventID: "task:t1:2026-04-30T14:22:01.234Z", TenantID: "t-acme", CreatedUTC: "2026-04-30T14:22:01.456Z", Origin: "api",
			Data: map[string]any{"task": map[string]any{"id": "t1", "title": `Ducts "level 2"`, "status": "open", "projectId": "p9", "assigneeId": nil, "updatedUtc": "2026-04-30T14:22:01.234Z"}}}),
		encode(t, envelope.Envelope{Type: "task.updated", EventID: "task:t1:2026-04-30T15:00:00.000Z", TenantID: "t-acme", CreatedUTC: "2026-04-30T15:00:00.010Z",
			Data: map[string]any{"task": map[string]any{"id": "t1", "status": "done", "projectId": "p9", "assigneeId": "m4"}, "before": map[string]any{"id": "t1", "status": "open"}}}),
		encode(t, envelope.Envelope{Type: "project.budget_threshold", EventID: "project:p9:80", TenantID: "t-acme", CreatedUTC: "2026-04-30T16:00:00.000Z",
			Data: map[string]any{"project": map[string]any{"id": "p9", "name": "Tower B", "allocatedHours": 120, "modelerIds": []any{"m4", "m7"}},
				"threshold": 80, "usedPercent": 81.5, "usedHours": 97.8, "allocatedHours": 120}}),
	}
}

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func shape(t *testing.T, spec payload.Spec, value []byte) string {
	t.Helper()
	sh, err := payload.New(&spec, loadCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := sh.Append([]byte("prefix:"), value)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix:")) {
		t.Fatalf("Append dropped what dst held: %s", out)
	}
	body := out[len("prefix:"):]
	if !json.Valid(body) {
		t.Fatalf("%s body is not JSON: %s", spec.Shape, body)
	}
	return string(body)
}

func TestEachShapeOfTheSameEvents(t *testing.T) {
	evs := events(t)
	want := map[string][]string{
		payload.ShapeThin: {
			`{"type":"task.created","eventId":"task:t1:2026-04-30T14:22:01.234Z","tenantId":"t-acme","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p9","assigneeId":null}}}`,
			`{"type":"task.updated","eventId":"task:t1:2026-04-30T15:00:00.000Z","tenantId":"t-acme","createdUtc":"2026-04-30T15:00:00.010Z","data":{"task":{"id":"t1","projectId":"p9","assigneeId":"m4"}}}`,
			`{"type":"project.budget_threshold","eventId":"project:p9:80","tenantId":"t-acme","createdUtc":"2026-04-30T16:00:00.000Z","data":{"project":{"id":"p9","modelerIds":["m4","m7"]}}}`,
		},
		payload.ShapeLegacy: {
			`{"event":"task.created","occurred_at":"2026-04-30T14:22:01.456Z","data":{"assigneeId":null,"id":"t1","projectId":"p9","status":"open","title":"Ducts \"level 2\"","updatedUtc":"2026-04-30T14:22:01.234Z"}}`,
			`{"event":"task.updated","occurred_at":"2026-04-30T15:00:00.010Z","data":{"assigneeId":"m4","id":"t1","projectId":"p9","status":"done"}}`,
			`{"event":"project.budget_threshold","occurred_at":"2026-04-30T16:00:00.000Z","data":{"allocatedHours":120,"id":"p9","modelerIds":["m4","m7"],"name":"Tower B","threshold":80,"usedHours":97.8,"usedPercent":81.5}}`,
		},
	}
	for i, ev := range evs {
		if got := shape(t, payload.Spec{}, ev); got != string(ev) {
			t.Errorf("full changed the envelope:\n got %s\nwant %s", got, ev)
		}
		t.Logf("full:   %s", ev)
		for _, s := range []string{payload.ShapeThin, payload.ShapeLegacy} {
			got := shape(t, payload.Spec{Shape: s}, ev)
			t.Logf("%-7s %s", s+":", got)
			if got != want[s][i] {
				t.Errorf("%s of event %d:\n got %s\nwant %s", s, i, got, want[s][i])
			}
		}
	}
	tmpl := payload.Spec{Shape: payload.ShapeTemplate, Template: `{"id":{{jsonStr .eventId}},"title":{{jsonStr .data.task.title}},"task":{{json .data.task}}}`}
	got := shape(t, tmpl, evs[0])
	t.Logf("template: %s", got)
	wantT := `{"id":"task:t1:2026-04-30T14:22:01.234Z","title":"Ducts \"level 2\"","task":{"assigneeId":null,"id":"t1","projectId":"p9","status":"open","title":"Ducts \"level 2\"","updatedUtc":"2026-04-30T14:22:01.234Z"}}`
	if got != wantT {
		t.Errorf("template:\n got %s\nwant %s", got, wantT)
	}
}

func TestThinKeepsOnlyTheIDsWhenTheCatalogDeclaresNone(t *testing.T) {
	sh, err := payload.New(&payload.Spec{Shape: payload.ShapeThin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sh.Append(nil, events(t)[1])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"task.updated","eventId":"task:t1:2026-04-30T15:00:00.000Z","tenantId":"t-acme","createdUtc":"2026-04-30T15:00:00.010Z","data":{"task":{"id":"t1"}}}`
	if string(out) != want {
		t.Fatalf("got %s\nwant %s", out, want)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  payload.Spec
		field string
	}{
		{"unknown shape", payload.Spec{Shape: "skinny"}, "shape"},
		{"template without source", payload.Spec{Shape: payload.ShapeTemplate}, "template"},
		{"template syntax", payload.Spec{Shape: payload.ShapeTemplate, Template: `{"text": {{jsonStr .type}`}, "template"},
		{"unknown function", payload.Spec{Shape: payload.ShapeTemplate, Template: `{{yaml .}}`}, "template"},
		{"template on thin", payload.Spec{Shape: payload.ShapeThin, Template: `{}`}, "template"},
	} {
		err := tc.spec.Validate()
		var se *payload.SpecError
		if !errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, payload.ErrInvalid) {
			t.Errorf("%s: got %v, want a SpecError on %q", tc.name, err, tc.field)
		}
	}
	for _, ok := range []payload.Spec{{}, {Shape: payload.ShapeFull}, {Shape: payload.ShapeThin}, {Shape: payload.ShapeLegacy}, {Shape: payload.ShapeTemplate, Template: `{}`}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestTemplateFailuresAreShapeErrors(t *testing.T) {
	for name, src := range map[string]string{
		"missing field":   `{"t":{{jsonStr .data.task.nope}}}`,
		"not JSON":        `text: {{.type}}`,
		"two values":      `{} {}`,
		"unquoted string": `{"t":{{.data.task.title}}}`,
	} {
		sh, err := payload.New(&payload.Spec{Shape: payload.ShapeTemplate, Template: src}, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := sh.Append([]byte("x"), events(t)[0])
		if !errors.Is(err, payload.ErrShape) || string(out) != "x" {
			t.Errorf("%s: got %q, %v; want dst unchanged and ErrShape", name, out, err)
		}
	}
}

func TestCacheCompilesEachSpecOnce(t *testing.T) {
	c := payload.NewCache(nil)
	spec := payload.Spec{Shape: payload.ShapeTemplate, Template: `{}`}
	a, err := c.Get(&spec)
	if err != nil {
		t.Fatal(err)
	}
	cp := spec
	if b, _ := c.Get(&cp); b != a {
		t.Fatal("same spec compiled twice")
	}
	if _, err := c.Get(&payload.Spec{Shape: "x"}); !errors.Is(err, payload.ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	if full, _ := c.Get(nil); full.Shape() != payload.ShapeFull {
		t.Fatalf("nil spec is %s", full.Shape())
	}
}

// TestShapesReadEnvelopesOtherClientsWrite covers values not written by
// the producer: spaces, escaped keys and strings, repeated keys.
func TestShapesReadEnvelopesOtherClientsWrite(t *testing.T) {
	value := []byte(` { "type" : "task.created", "eventId":"e\u002d1", "tenantId":"t-1", "createdUtc":"2026-04-30T14:22:01.456Z",
		"data" : { "t\u0061sk" : { "id" : "t1", "title":"a \"b\"", "projectId":"p1", "projectId":"p2" }, "extra": [1, 2] } } `)
	for spec, want := range map[string]string{
		payload.ShapeThin:   `{"type":"task.created","eventId":"e\u002d1","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"t1","projectId":"p2"}}}`,
		payload.ShapeLegacy: `{"event":"task.created","occurred_at":"2026-04-30T14:22:01.456Z","data":{ "id" : "t1", "title":"a \"b\"", "projectId":"p1", "projectId":"p2","extra":[1, 2]}}`,
	} {
		if got := shape(t, payload.Spec{Shape: spec}, value); got != want {
			t.Errorf("%s:\n got %s\nwant %s", spec, got, want)
		}
	}
}

func BenchmarkShapes(b *testing.B) {
	value := events(b)[1]
	cat := loadCatalog(b)
	for _, spec := range []payload.Spec{{Shape: payload.ShapeThin}, {Shape: payload.ShapeLegacy},
		{Shape: payload.ShapeTemplate, Template: `{"text": {{jsonStr (printf "%s %s in %s" .type .eventId .tenantId)}}}`}} {
		b.Run(spec.Shape, func(b *testing.B) {
			sh, err := payload.New(&spec, cat)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 4096)
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = sh.Append(buf[:0], value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
