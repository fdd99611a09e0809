package catalog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/envelope"
)

// TestCheckEnvelopeAgreesWithSchema runs the producer's envelope check and
// the generic validator over the same envelopes: same verdict, same field.
func TestCheckEnvelopeAgreesWithSchema(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	type env struct{ typ, id, tenant, created, origin string }
	good := env{"task.updated", "task:abc:2026-04-30T14:22:01.234Z", "t-abcdef0123", "2026-04-30T14:22:01.456Z", "api"}
	cases := []env{good}
	vary := func(f func(*env)) { e := good; f(&e); cases = append(cases, e) }
	vary(func(e *env) { e.typ = "Task.updated" })
	vary(func(e *env) { e.typ = "task" })
	vary(func(e *env) { e.typ = "task.updated." })
	vary(func(e *env) { e.typ = "invoice.paid_late" })
	vary(func(e *env) { e.id = "" })
	vary(func(e *env) { e.id = strings.Repeat("é", 512) })
	vary(func(e *env) { e.id = strings.Repeat("é", 513) })
	vary(func(e *env) { e.tenant = "" })
	vary(func(e *env) { e.tenant = strings.Repeat("t", 257) })
	vary(func(e *env) { e.origin = strings.Repeat("o", 257) })
	vary(func(e *env) { e.origin = "" })
	vary(func(e *env) { e.created = "2026-04-30" })
	vary(func(e *env) { e.created = "2026-04-30T14:22:01Z" })
	vary(func(e *env) { e.created = "2026-04-30T14:22:01+02:00" })
	vary(func(e *env) { e.created = "yesterday" })
	vary(func(e *env) { e.created = "2026-13-30T14:22:01Z" })
	for _, e := range cases {
		m := map[string]any{"type": e.typ, "eventId": e.id, "tenantId": e.tenant, "createdUtc": e.created, "data": map[string]any{}}
		if e.origin != "" {
			m["origin"] = e.origin
		}
		var schemaErr *SchemaError
		fromSchema := c.envelope.Validate(m)
		if fromSchema != nil {
			schemaErr = schemaError(e.typ, "", fromSchema).(*SchemaError)
		}
		fromCheck := CheckEnvelope(e.typ, e.id, e.tenant, e.created, e.origin)
		var checkErr *SchemaError
		errors.As(fromCheck, &checkErr)
		if (schemaErr == nil) != (checkErr == nil) {
			t.Errorf("%+v: schema says %v, check says %v", e, fromSchema, fromCheck)
			continue
		}
		if schemaErr != nil && schemaErr.Pointer != checkErr.Pointer {
			t.Errorf("%+v: schema points at %s, check at %s", e, schemaErr.Pointer, checkErr.Pointer)
		}
	}
}

// TestIsTypeNameMatchesPattern compares envelope.IsTypeName, the check the
// producer and the dispatcher share, with the schema's regexp on every
// string of up to five characters over an alphabet that covers each
// character class the pattern distinguishes.
func TestIsTypeNameMatchesPattern(t *testing.T) {
	alphabet := []byte("az09_.A-")
	var walk func(prefix []byte)
	checked := 0
	walk = func(prefix []byte) {
		s := string(prefix)
		if got, want := envelope.IsTypeName(s), typePattern.MatchString(s); got != want {
			t.Fatalf("IsTypeName(%q) = %v, the pattern says %v", s, got, want)
		}
		checked++
		if len(prefix) == 5 {
			return
		}
		for _, c := range alphabet {
			walk(append(prefix, c))
		}
	}
	walk(nil)
	for _, s := range []string{"task.updated", "project.budget_threshold", "a.b.c", "a..b", ".a", "a.", "é.a"} {
		if got, want := envelope.IsTypeName(s), typePattern.MatchString(s); got != want {
			t.Fatalf("IsTypeName(%q) = %v, the pattern says %v", s, got, want)
		}
	}
	if checked < 30000 {
		t.Fatalf("checked only %d strings", checked)
	}
}

func TestSchemaReturnsTheDocumentInForce(t *testing.T) {
	dir := t.TempDir()
	override := `{"description":"operator's own","type":"object","required":["task","note"]}`
	if err := os.WriteFile(filepath.Join(dir, "task.created.schema.json"), []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range plain.Types() {
		doc, ok := plain.Schema(typ)
		var m map[string]any
		if !ok || json.Unmarshal(doc, &m) != nil || m["description"] == "" || m["description"] == nil {
			t.Errorf("%s: embedded schema without a description: %s", typ, doc)
		}
	}
	over, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := over.Schema("task.created"); string(doc) != override {
		t.Errorf("override not in force: %s", doc)
	}
	var se *SchemaError
	if err := over.ValidateData("task.created", map[string]any{"task": map[string]any{"id": "t1"}}); !errors.As(err, &se) || se.Pointer != "/data/note" {
		t.Errorf("override not validating: %v", err)
	}
	if _, ok := over.Schema("no.such"); ok {
		t.Error("unknown type has a schema")
	}
}

func TestRefsFromTheSchemas(t *testing.T) {
	cat, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string][]string{
		"task.updated":                   {"/task/projectId", "/task/assigneeId"},
		"project.budget_threshold":       {"/project/modelerIds"},
		"member.data_deletion_requested": {"/requestId"},
		"member.joined":                  {},
		"no.such_type":                   nil,
	} {
		if got := cat.Refs(typ); !slices.Equal(got, want) || (want == nil) != (got == nil) {
			t.Errorf("%s: refs %q, want %q", typ, got, want)
		}
	}
	for _, typ := range cat.Types() {
		if cat.Refs(typ) == nil {
			t.Errorf("%s declares no %s: a thin body would not know what it references", typ, RefsKeyword)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.bad.schema.json"), []byte(`{"type":"object","x-hookline-refs":["task/id"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), RefsKeyword) {
		t.Fatalf("a refs entry that is not a pointer loaded: %v", err)
	}
}
