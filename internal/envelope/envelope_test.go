package envelope

import (
	"encoding/json"
	"errors"
	"reflect"
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

func TestFromRecordPrefersHeaders(t *testing.T) {
	m := Meta{Type: "task.updated", TenantID: "t-1", Origin: "api", Changed: []string{"status", "title"}}
	// The value disagrees with the headers: routing must not read it.
	withIDs := m
	withIDs.EventID, withIDs.ObjectID = "e1", "task_1" // not routing fields: not in headers
	if n := len(withIDs.Headers()); n != 4 {
		t.Fatalf("%d headers, want type, tenant, origin and changed", n)
	}
	got, err := FromRecord(withIDs.Headers(), []byte(`not json at all`))
	if err != nil {
		t.Fatal(err)
	}
	got.ChangedFields()
	got.changedRaw, got.hasChanged = nil, false
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("FromRecord = %+v, want %+v", got, m)
	}
	// An update whose changed set is empty keeps a non-nil empty slice.
	m.Changed = []string{}
	got, _ = FromRecord(m.Headers(), nil)
	if got.ChangedFields() == nil || len(got.ChangedFields()) != 0 {
		t.Fatalf("empty changed header: %#v", got.Changed)
	}
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
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FromRecord = %+v, want %+v", got, want)
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
		"missing data":   `{"type":"task.created","eventId":"e","tenantId":"t"}`,
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
