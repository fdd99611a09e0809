package envelope

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestStripTenantLeavesCallerMapsAlone(t *testing.T) {
	task := map[string]any{"id": "task_1", "tenantId": "t-1", "title": "x"}
	before := map[string]any{"id": "task_1", "tenant_id": "t-1", "title": "y"}
	data := map[string]any{"task": task, "before": before, "note": "kept"}

	got := StripTenant(data)

	for _, obj := range []string{"task", "before"} {
		m := got[obj].(map[string]any)
		if _, ok := m["tenantId"]; ok {
			t.Errorf("data.%s.tenantId not stripped: %v", obj, m)
		}
		if _, ok := m["tenant_id"]; ok {
			t.Errorf("data.%s.tenant_id not stripped: %v", obj, m)
		}
		if m["id"] != "task_1" {
			t.Errorf("data.%s.id lost: %v", obj, m)
		}
	}
	if got["note"] != "kept" {
		t.Errorf("non-object data field lost: %v", got)
	}
	if task["tenantId"] != "t-1" || before["tenant_id"] != "t-1" {
		t.Errorf("caller's maps were modified: %v %v", task, before)
	}
}

func TestChangedFields(t *testing.T) {
	cases := []struct {
		name          string
		after, before map[string]any
		want          []string
	}{
		{"status flip", map[string]any{"id": "1", "status": "Done", "n": 2.0}, map[string]any{"id": "1", "status": "Todo", "n": 2.0}, []string{"status"}},
		{"added and removed", map[string]any{"id": "1", "due": "x"}, map[string]any{"id": "1", "seenUtc": "y"}, []string{"due", "seenUtc"}},
		{"numbers by value", map[string]any{"id": "1", "h": json.Number("120")}, map[string]any{"id": "1", "h": 120}, []string{}},
		{"nested", map[string]any{"id": "1", "m": []any{"a", "b"}}, map[string]any{"id": "1", "m": []any{"a"}}, []string{"m"}},
		{"nothing", map[string]any{"id": "1"}, map[string]any{"id": "1"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ChangedFields("task.updated", map[string]any{"task": c.after, "before": c.before})
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ChangedFields = %#v, want %#v", got, c.want)
			}
		})
	}
	if got := ChangedFields("task.updated", map[string]any{"task": map[string]any{}}); got != nil {
		t.Fatalf("without before: %v, want nil", got)
	}
}

// routing is the part of a Meta a test compares: what routing reads, with
// the changed fields worked out.
func routing(m Meta) Meta {
	return Meta{Type: m.Type, TenantID: m.TenantID, EventID: m.EventID, ObjectID: m.ObjectID, Origin: m.Origin, Application: m.Application, Changed: m.ChangedFields()}
}

func TestFromRecordChecksHeadersAgainstTheBody(t *testing.T) {
	e := Envelope{Type: "task.updated", EventID: "e1", TenantID: "t-1", CreatedUTC: "2026-04-30T14:22:01.456Z", Origin: "api", Application: "tasks",
		Data: map[string]any{"task": map[string]any{"id": "task_1", "status": "Done"}, "before": map[string]any{"id": "task_1", "status": "Todo"}}}
	value, err := AppendJSON(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	m := MetaOf(&e)
	if n := len(m.Headers()); n != 5 {
		t.Fatalf("%d headers, want type, tenant, origin, application and changed", n)
	}
	got, err := FromRecord(m.Headers(), value)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Meta{Type: "task.updated", TenantID: "t-1", EventID: "e1", ObjectID: "task_1", Origin: "api", Application: "tasks", Changed: []string{"status"}}); !reflect.DeepEqual(routing(got), want) {
		t.Fatalf("FromRecord = %+v, want %+v", routing(got), want)
	}

	// hl-changed is a hint the record's own tenant gives: taken as it is.
	hinted := m
	hinted.Changed = []string{"status", "title"}
	got, _ = FromRecord(hinted.Headers(), value)
	if !reflect.DeepEqual(got.ChangedFields(), hinted.Changed) {
		t.Fatalf("changed = %v, want the header's %v", got.ChangedFields(), hinted.Changed)
	}
	// An update whose changed set is empty keeps a non-nil empty slice.
	hinted.Changed = []string{}
	got, _ = FromRecord(hinted.Headers(), value)
	if got.ChangedFields() == nil || len(got.ChangedFields()) != 0 {
		t.Fatalf("empty changed header: %#v", got.Changed)
	}

	for name, c := range map[string]struct {
		headers []kgo.RecordHeader
		value   string
		want    string
	}{
		"tenant":      {with(m.Headers(), HeaderTenant, "t-2"), string(value), `header hl-tenant "t-2" disagrees with body tenantId "t-1"`},
		"application": {with(m.Headers(), HeaderApp, "budgets"), string(value), `header hl-application "budgets" disagrees with body application "tasks"`},
		"type":        {with(m.Headers(), HeaderType, "task.created"), string(value), `header hl-type "task.created" disagrees with body type "task.updated"`},
		"origin":      {with(m.Headers(), HeaderOrigin, "zapier"), string(value), `header hl-origin "zapier" disagrees with body origin "api"`},
		"origin the body lacks": {m.Headers(), strings.Replace(string(value), `"origin":"api",`, "", 1),
			`header hl-origin "api" disagrees with body origin ""`},
		"not JSON":  {m.Headers(), `not json at all`, "value is not a JSON object (byte 0 is 'n')"},
		"empty":     {m.Headers(), ``, "value is empty"},
		"null":      {m.Headers(), `null`, "value is not a JSON object"},
		"type CRLF": {with(m.Headers(), HeaderType, "task.updated\r\n"), strings.Replace(string(value), `task.updated`, `task.updated\r\n`, 1), "does not match"},
	} {
		_, err := FromRecord(c.headers, []byte(c.value))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrMalformed saying %s", name, err, c.want)
		}
	}
	// A repeated header must agree too, every time.
	twice := append(m.Headers(), kgo.RecordHeader{Key: HeaderTenant, Value: []byte("t-2")})
	if _, err := FromRecord(twice, value); !errors.Is(err, ErrMalformed) {
		t.Errorf("second hl-tenant header: err = %v", err)
	}
}

// with returns headers with key's value set to v.
func with(headers []kgo.RecordHeader, key, v string) []kgo.RecordHeader {
	for i := range headers {
		if headers[i].Key == key {
			headers[i].Value = []byte(v)
		}
	}
	return headers
}

func TestFromRecordHeaderless(t *testing.T) {
	// As written by a client that knows nothing of hookline headers.
	value := []byte(`{"type":"task.updated","eventId":"task:abc123:2026-04-30T14:22:01.234Z","tenantId":"t-abcdef0123",
		"createdUtc":"2026-04-30T14:22:01.456Z","origin":"revit-addin",
		"data":{"task":{"id":"abc123","status":"Done","seenUtc":"b"},"before":{"id":"abc123","status":"Todo","seenUtc":"a"}}}`)
	for _, headers := range [][]kgo.RecordHeader{nil, {{Key: "traceparent", Value: []byte("00-x")}}} {
		got, err := FromRecord(headers, value)
		if err != nil {
			t.Fatal(err)
		}
		want := Meta{Type: "task.updated", TenantID: "t-abcdef0123", EventID: "task:abc123:2026-04-30T14:22:01.234Z",
			ObjectID: "abc123", Origin: "revit-addin", Changed: []string{"seenUtc", "status"}}
		if !reflect.DeepEqual(routing(got), want) {
			t.Fatalf("FromRecord = %+v, want %+v", routing(got), want)
		}
		if got.Key() != "t-abcdef0123/abc123" {
			t.Fatalf("Key = %q", got.Key())
		}
	}
}

func TestFromRecordMalformed(t *testing.T) {
	for name, v := range map[string]string{
		"not json":       `{"type":`,
		"missing type":   `{"eventId":"e","tenantId":"t","data":{}}`,
		"missing tenant": `{"type":"task.created","eventId":"e","data":{}}`,
		"missing event":  `{"type":"task.created","tenantId":"t","data":{}}`,
		"missing data":   `{"type":"task.created","eventId":"e","tenantId":"t"}`,
		"trailing data":  `{"type":"task.created","eventId":"e","tenantId":"t","data":{}},{"type":"task.created","eventId":"e","tenantId":"u","data":{}}`,
		"case variant":   `{"type":"task.created","eventId":"e","tenantId":"t","TenantID":"u","data":{}}`,
	} {
		if _, err := FromRecord(nil, []byte(v)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestNowUTCMatchesLayout holds the hand-written formatter to time.Format.
func TestNowUTCMatchesLayout(t *testing.T) {
	zone := time.FixedZone("x", -7*3600)
	for _, tm := range []time.Time{
		time.Date(2026, 4, 30, 14, 22, 1, 234_567_890, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, zone),
		time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	} {
		if got, want := NowUTC(tm), tm.UTC().Format(TimeLayout); got != want {
			t.Errorf("NowUTC(%v) = %s, want %s", tm, got, want)
		}
	}
}
