package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
	"net/http/httptest"
)

// applications apply loads files and schema directories through the API:
// a second apply of the same file changes nothing, and a schema directory
// adds types to an application without touching its dialect.
func TestApplicationsApplyFilesAndSchemaDir(t *testing.T) {
	ctx := context.Background()
	kr, _ := registry.ParseKeyring(newKey(t))
	st, err := openRegistry(ctx, testbackend.NewFake(t).Brokers, testbackend.UniqueName(t)+".", kr, "", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	srv, err := api.New(api.Config{Registry: st, OperatorKey: "op-key-0123456789abcdef", RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "people.json")
	app := `{"id":"people","name":"People","dialect":{"headerPrefix":"X-People","maxItems":1,"timeout":"6s"},
	 "eventTypes":[{"name":"employee.created","description":"hired","version":1,"schema":{"type":"object"}}]}`
	if err := os.WriteFile(file, []byte(app), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--api-url", hs.URL, "--api-key", "op-key-0123456789abcdef"}
	for range 2 {
		if err := runApplications(ctx, append([]string{"apply", file}, args...)); err != nil {
			t.Fatal(err)
		}
	}
	schemas := filepath.Join(dir, "schemas")
	_ = os.Mkdir(schemas, 0o700)
	if err := os.WriteFile(filepath.Join(schemas, "leave.approved.schema.json"), []byte(`{"description":"approved","type":"object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runApplications(ctx, append([]string{"apply", "--schema-dir", schemas, "--id", "people"}, args...)); err != nil {
		t.Fatal(err)
	}
	a, ok := st.Application("people")
	if !ok || len(a.EventTypes) != 2 || a.Dialect.HeaderPrefix != "X-People" || a.Dialect.MaxItems != 1 {
		t.Fatalf("people after apply: %+v", a)
	}
	if tp, _ := a.Type("leave.approved"); tp.Description != "approved" || tp.Version != 1 {
		t.Fatalf("leave.approved from the schema dir: %+v", tp)
	}
	// A bad file is refused before anything is sent, naming the field.
	if err := os.WriteFile(file, []byte(`{"id":"people","name":"People","dialect":{"timeout":"5m"},"eventTypes":[{"name":"employee.created","version":1,"schema":{}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err = runApplications(ctx, append([]string{"apply", file}, args...))
	if err == nil || !strings.Contains(err.Error(), "dialect.timeout") {
		t.Fatalf("bad file: %v", err)
	}
}
