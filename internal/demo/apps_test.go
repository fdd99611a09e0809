package demo

import (
	"slices"
	"testing"

	"github.com/hookline/hookline/internal/envelope"
)

// TestAppsValidateAndTheirEventsFitTheirCatalogs: each application passes
// the registry's validation, and its generator's events are of its
// catalog's types (every type made at least once), valid against their
// schemas, named after the application, and keyed by their object's id.
func TestAppsValidateAndTheirEventsFitTheirCatalogs(t *testing.T) {
	apps, err := Apps()
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].Application.ID != MomentumStudioID || apps[1].Application.ID != MomentumproID {
		t.Fatalf("apps %v, want momentum-studio and momentumpro", apps)
	}
	wantTypes := map[string]int{MomentumStudioID: 9, MomentumproID: 6}
	for _, app := range apps {
		a := app.Application
		cat, err := a.Validate()
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		if len(a.EventTypes) != wantTypes[a.ID] {
			t.Errorf("%s: %d types, want %d", a.ID, len(a.EventTypes), wantTypes[a.ID])
		}
		for _, et := range a.EventTypes {
			if et.Description == "" {
				t.Errorf("%s: %s has no description", a.ID, et.Name)
			}
		}
		if !slices.Equal(app.Rules.Types, cat.Types()) {
			t.Errorf("%s: receiver types %v, catalog %v", a.ID, app.Rules.Types, cat.Types())
		}
		seen := map[string]bool{}
		src := app.NewSource(7)
		for range 2000 {
			e := src.Next()
			seen[e.Type] = true
			if e.Application != a.ID {
				t.Fatalf("%s: event names application %q", a.ID, e.Application)
			}
			if err := cat.ValidateData(e.Type, envelope.StripTenant(e.Data)); err != nil {
				t.Fatalf("%s: %v (data %v)", a.ID, err, e.Data)
			}
			if envelope.ObjectID(e.Type, e.Data) == "" {
				t.Fatalf("%s: %s has no data.%s.id for the record key", a.ID, e.Type, envelope.ObjectName(e.Type))
			}
		}
		for _, typ := range cat.Types() {
			if !seen[typ] {
				t.Errorf("%s: the generator never made %s", a.ID, typ)
			}
		}
	}
}

// TestMomentumproLeaveIsTheDocumentsExample: leave.approved's data holds
// the fields of the document's example, consistent with each other.
func TestMomentumproLeaveIsTheDocumentsExample(t *testing.T) {
	g := NewHRGenerator(3)
	for range 1000 {
		e := g.Next()
		if e.Type != "leave.approved" {
			continue
		}
		l := e.Data["leave"].(map[string]any)
		for _, k := range []string{"id", "employee_id", "leave_type", "from", "to", "days", "approved_by"} {
			if l[k] == nil {
				t.Fatalf("leave.approved without %s: %v", k, l)
			}
		}
		if l["from"].(string) > l["to"].(string) {
			t.Fatalf("leave from %s to %s", l["from"], l["to"])
		}
		return
	}
	t.Fatal("no leave.approved in 1000 events")
}
