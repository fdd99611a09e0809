package examples

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/catalog"
)

// loadApplications reads this directory as `hookline applications apply
// examples/applications/` does, with their compiled catalogs.
func loadApplications(t testing.TB) (map[string]*applications.Application, map[string]*catalog.Catalog) {
	t.Helper()
	list, err := applications.ReadFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	apps, cats := map[string]*applications.Application{}, map[string]*catalog.Catalog{}
	for _, a := range list {
		cat, err := a.Validate()
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		apps[a.ID], cats[a.ID] = a, cat
	}
	return apps, cats
}

// TestFilesLoadWithEveryTypeTheDocumentsName: the directory holds one
// application per product (two for Momentus Connect, whose webhooks
// belong to Enterprise or Elite), each passes applications.ReadFiles, and
// each catalog has exactly the types its document names, every one with
// a description and a sample that its schema accepts.
func TestFilesLoadWithEveryTypeTheDocumentsName(t *testing.T) {
	apps, cats := loadApplications(t)
	want := map[string][]string{
		studioID: {"task.created", "task.updated", "task.deleted", "project.created", "project.updated", "project.deleted",
			"project.budget_threshold", "member.joined", "member.data_deletion_requested"},
		proID: {"employee.created", "employee.updated", "employee.terminated", "attendance.clock_in", "attendance.clock_out",
			"attendance.exception", "leave.requested", "leave.approved", "leave.rejected", "expense.submitted", "expense.approved",
			"expense.paid", "po.issued", "po.received", "po.invoiced", "incident.reported", "incident.closed", "payroll.locked",
			"payroll.published"},
		enterpriseID: {"account.updated"},
		eliteID:      {"account.updated"},
		eventsID:     {"message_event.injection", "message_event.delivery", "track_event.open", "track_event.click"},
		momentID:     {"claim.changed", "customer.changed", "invoice.changed", "offer.changed", "offer.decided", "project.changed"},
	}
	if len(apps) != len(want) {
		t.Fatalf("%d applications, want %d", len(apps), len(want))
	}
	for id, types := range want {
		a := apps[id]
		if a == nil {
			t.Fatalf("no application %s", id)
		}
		var got []string
		for _, et := range a.EventTypes {
			got = append(got, et.Name)
			if et.Description == "" {
				t.Errorf("%s %s has no description", id, et.Name)
			}
			if err := cats[id].ValidateData(et.Name, roundTrip(t, sampleData(id, et.Name, 7))); err != nil {
				t.Errorf("%s %s: the sample fails the schema: %v", id, et.Name, err)
			}
		}
		if !slices.Equal(got, types) {
			t.Errorf("%s types %v, want %v", id, got, types)
		}
	}
}

// TestDocumentSamplesPassTheCatalogs: the payloads the documents print,
// as the data the producer publishes them from, pass their types'
// schemas; and data outside a schema is refused, so the schemas are more
// than {"type": "object"}.
func TestDocumentSamplesPassTheCatalogs(t *testing.T) {
	_, cats := loadApplications(t)
	for _, tc := range []struct {
		app, typ, data string
		ok             bool
	}{
		{proID, "leave.approved", `{"leave": {"id": 123, "employee_id": 45, "leave_type": "Annual", "from": "2026-05-10", "to": "2026-05-14", "days": 5, "approved_by": 12}}`, true},
		{proID, "leave.approved", `{"leave": {"id": 123, "employee_id": 45, "leave_type": "Annual", "from": "10 May", "to": "2026-05-14", "days": 5, "approved_by": 12}}`, false},
		{momentID, "invoice.changed", `{"event": "CREATE_NEW", "invoice": {"id": 106939080, "invoiceNumber": 1, "customer": {"id": 62788973, "customerNumber": "10001"}, "project": {"id": 62788980, "projectNumber": "1"}}}`, true},
		{momentID, "invoice.changed", `{"invoice": {"id": 106939080}}`, false},
		{studioID, "project.budget_threshold", `{"project": {"id": "p-1"}, "threshold": 80, "usedPercent": 81, "usedHours": 97, "allocatedHours": 120}`, true},
		{studioID, "project.budget_threshold", `{"project": {"id": "p-1"}, "threshold": 80}`, false},
		{eventsID, "track_event.click", `{"track_event": {"id": "1", "type": "click", "rcpt_to": "a@example.com", "timestamp": "1454442600", "user_agent": "Mozilla/5.0", "target_link_url": "https://example.com"}}`, true},
		{eventsID, "track_event.click", `{"track_event": {"id": "1", "type": "open", "rcpt_to": "a@example.com", "timestamp": "1454442600", "user_agent": "Mozilla/5.0", "target_link_url": "https://example.com"}}`, false},
		{enterpriseID, "account.updated", `{"account": {"id": "acc-1", "name": "Harbour Hall"}}`, true},
		{eliteID, "account.updated", `{"account": {"name": "Harbour Hall"}}`, false},
	} {
		var data any
		if err := json.Unmarshal([]byte(tc.data), &data); err != nil {
			t.Fatal(err)
		}
		err := cats[tc.app].ValidateData(tc.typ, data)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s %s: %v, want accepted %v", tc.app, tc.typ, tc.data, err, tc.ok)
		}
	}
}

// roundTrip gives data the types a decoder would, as the schemas see
// published events.
func roundTrip(t *testing.T, v map[string]any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
