package applications

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
)

const peopleJSON = `{"id":"people","name":"People","dialect":{"headerPrefix":"X-People","maxItems":1,"timeout":"6s","retrySchedule":["1m","5m"]},
 "eventTypes":[{"name":"employee.created","description":"hired","version":1,"schema":{"type":"object","required":["employee"],"properties":{"employee":{"type":"object"}}}}]}`

func TestValidateNamesTheField(t *testing.T) {
	for field, mod := range map[string]func(a *Application){
		"id":                      func(a *Application) { a.ID = "People" },
		"name":                    func(a *Application) { a.Name = " " },
		"eventTypes":              func(a *Application) { a.EventTypes = nil },
		"eventTypes[0].name":      func(a *Application) { a.EventTypes[0].Name = "employee" },
		"eventTypes[0].version":   func(a *Application) { a.EventTypes[0].Version = 0 },
		"eventTypes[0].schema":    func(a *Application) { a.EventTypes[0].Schema = json.RawMessage(`{"type":"objekt"}`) },
		"dialect.timeout":         func(a *Application) { a.Dialect.Timeout = endpoints.Duration(2 * time.Minute) },
		"dialect.maxItems":        func(a *Application) { a.Dialect.MaxItems = 10_001 },
		"dialect.retrySchedule":   func(a *Application) { a.Dialect.RetrySchedule = []endpoints.Duration{0} },
		"dialect.headerPrefix":    func(a *Application) { a.Dialect.HeaderPrefix = "X-Bad Prefix" },
		"dialect.payload.shape":   func(a *Application) { a.Dialect.Payload = &payload.Spec{Shape: "fat"} },
		"dialect.retryPolicy":     func(a *Application) { a.Dialect.RetryPolicy = "4xx" },
		"dialect.signatureFormat": func(a *Application) { a.Dialect.SignatureFormat = "base64" },
	} {
		a, err := Decode(strings.NewReader(peopleJSON))
		if err != nil {
			t.Fatal(err)
		}
		mod(a)
		_, err = a.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestCompatible(t *testing.T) {
	old := `{"type":"object","required":["a"],"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`
	for schema, want := range map[string]bool{
		old: true,
		`{"type":"object","description":"now documented","required":["a"],"properties":{"a":{"type":"string","title":"A"},"b":{"type":"integer"}}}`: true,
		`{"type":"object","required":["a"],"properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}}}`:                     true,
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`:                                                             true,
		`{"type":"object","required":["a","b"],"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`:                                        false,
		`{"type":"object","required":["a"],"properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}`:                                           false,
		`{"type":"object","required":["a"],"properties":{"a":{"type":"string"}}}`:                                                                   false,
		`{"type":"object","required":["a"],"additionalProperties":false,"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`:               false,
		`{"type":"object","required":["a"],"properties":{"a":{"type":"string","maxLength":3},"b":{"type":"integer"}}}`:                              false,
	} {
		if got := Compatible(json.RawMessage(old), json.RawMessage(schema)); got != want {
			t.Errorf("Compatible(old, %s) = %v, want %v", schema, got, want)
		}
	}
}

// An endpoints file may declare applications: its endpoints resolve their
// dialects and are held to their catalogs, as in the registry.
func TestLoadFileWithApplications(t *testing.T) {
	dir := t.TempDir()
	write := func(eps string) string {
		p := filepath.Join(dir, "endpoints.json")
		if err := os.WriteFile(p, []byte(`{"applications":[`+peopleJSON+`],"endpoints":`+eps+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	apps, set, err := LoadFile(write(`[{"id":"hr","tenantId":"t","url":"https://example.com/hr","secrets":["s3cret-0123456789abcdef01"],"application":"people","eventTypes":["employee.*"]},
	 {"id":"plain","tenantId":"t","url":"https://example.com/p","secrets":["s3cret-0123456789abcdef01"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	hr := set.Get("hr")
	if l := hr.Limits(); l.Timeout != 6*time.Second || l.MaxItems != 1 || hr.Resolved().HeaderPrefix != "X-People" || len(hr.Resolved().Delays()) != 2 {
		t.Fatalf("hr resolves %+v", hr.Resolved())
	}
	if set.Get("plain").Limits().Timeout != endpoints.DefaultTimeout || apps.Catalog("people") == nil || apps.Catalog("plain") != nil {
		t.Fatal("an endpoint of no application took a dialect, or the catalog is missing")
	}
	if err := set.Disable(t.Context(), "hr", "410"); err != nil || set.Get("hr").Limits().Timeout != 6*time.Second {
		t.Fatalf("a disabled endpoint keeps its dialect: %v", err)
	}
	_, _, err = LoadFile(write(`[{"id":"hr","tenantId":"t","url":"https://example.com/hr","secrets":["s3cret-0123456789abcdef01"],"application":"people","eventTypes":["leave.*"]}]`))
	if !errors.Is(err, endpoints.ErrInvalid) || !strings.Contains(err.Error(), "eventTypes") {
		t.Fatalf("a pattern outside the catalog: %v", err)
	}
}
