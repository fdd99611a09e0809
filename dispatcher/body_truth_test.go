package dispatcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bodyEvent is a hand-written envelope, as a client other than the producer
// might put on the topic.
func bodyEvent(typ, id, tenant, data string) string {
	return `{"type":"` + typ + `","eventId":"` + id + `","tenantId":"` + tenant +
		`","createdUtc":"2026-04-30T14:22:01.456Z","data":` + data + `}`
}

func taskData(id string) string {
	return `{"task":{"id":"` + id + `","title":"Ducts","status":"Todo"}}`
}

// routingHeaders are the headers the producer would set for typ and tenant.
func routingHeaders(typ, tenant string) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: envelope.HeaderType, Value: []byte(typ)}, {Key: envelope.HeaderTenant, Value: []byte(tenant)}}
}

// TestBodyIsTheTruth replays what a hostile producer found: routing headers
// that disagree with the body, bodies that are not one JSON object, and
// bodies that encoding/json's leniency read as another tenant's event. Each
// such record must go to the invalid topic with a reason that names the
// problem, the good records around it must arrive intact, and the partition
// must be committed to its end afterwards.
func TestBodyIsTheTruth(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		sinkA, sinkATasks, sinkAQuiet, sinkB := newSink(t, "X-Hookline"), newSink(t, "X-Hookline"), newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
		batched := func(e *endpoints.Endpoint) { e.MaxItems, e.MaxWait = 50, endpoints.Duration(200*time.Millisecond) }
		f := newFixture(t, b, []*endpoints.Endpoint{
			endpointFor("a", "t-A", sinkA, batched),
			endpointFor("a-tasks", "t-A", sinkATasks, func(e *endpoints.Endpoint) { batched(e); e.EventTypes = []string{"task.*"} }),
			endpointFor("a-quiet", "t-A", sinkAQuiet, func(e *endpoints.Endpoint) {
				batched(e)
				e.EventTypes, e.IgnoreFields = []string{"task.updated"}, []string{"seenUtc"}
			}),
			endpointFor("b", "t-B", sinkB, batched),
		}, nil)

		type rec struct {
			name    string
			headers []kgo.RecordHeader
			value   string
			reason  string // empty for a good record; else a part of the invalid reason
		}
		hostile := []rec{
			{"good-A-1", routingHeaders("task.created", "t-A"), bodyEvent("task.created", "good-A-1", "t-A", taskData("1")), ""},
			{"tenant header over another tenant's body", routingHeaders("task.created", "t-A"),
				bodyEvent("task.created", "leak-B", "t-B", taskData("2")), `header hl-tenant "t-A" disagrees with body tenantId "t-B"`},
			{"good-B-1", routingHeaders("task.created", "t-B"), bodyEvent("task.created", "good-B-1", "t-B", taskData("3")), ""},
			{"type header over another type's body", routingHeaders("task.created", "t-A"),
				bodyEvent("project.deleted", "type-A", "t-A", `{"project":{"id":"p1"}}`), `header hl-type "task.created" disagrees with body type "project.deleted"`},
			{"not JSON under good headers", routingHeaders("task.created", "t-A"), `not json at all`, "not a JSON object"},
			{"good-A-2", nil, bodyEvent("task.created", "good-A-2", "t-A", taskData("4")), ""},
			{"empty value under good headers", routingHeaders("task.created", "t-A"), ``, "value is empty"},
			{"null under good headers", routingHeaders("task.created", "t-A"), `null`, "not a JSON object"},
			{"trailing data", nil, bodyEvent("task.created", "trail-A", "t-A", taskData("5")) + "," + bodyEvent("task.created", "trail-B", "t-B", taskData("6")),
				"trailing data"},
			{"case-variant duplicate key", nil, `{"type":"task.created","eventId":"case-B","tenantId":"t-B","TenantID":"t-A","data":` + taskData("7") + `}`,
				`key "TenantID" at byte 59 is a case variant of "tenantId"`},
			{"type with CR LF", nil, bodyEvent(`task.created\r\n`, "crlf-A", "t-A", taskData("8")), "does not match"},
			{"type with CR LF in header and body", routingHeaders("task.created\r\n", "t-A"), bodyEvent(`task.created\r\n`, "crlf-A-2", "t-A", taskData("9")), "does not match"},
			{"good-A-3 noisy update", nil, bodyEvent("task.updated", "good-A-3", "t-A",
				`{"task":{"id":"1","status":"Todo","seenUtc":"2"},"before":{"id":"1","status":"Todo","seenUtc":"1"}}`), ""},
			{"good-A-4 real update", nil, bodyEvent("task.updated", "good-A-4", "t-A",
				`{"task":{"id":"1","status":"Done","seenUtc":"3"},"before":{"id":"1","status":"Todo","seenUtc":"2"}}`), ""},
			{"good-B-2", nil, bodyEvent("task.created", "good-B-2", "t-B", taskData("10")), ""},
		}
		cl := b.Client(t)
		wantInvalid := map[string]string{}
		for _, r := range hostile {
			// One key: one partition, in order, so the commit check below
			// covers every record.
			kr := &kgo.Record{Topic: f.topics.Events, Key: []byte("hostile"), Value: []byte(r.value),
				Headers: append(slices.Clone(r.headers), kgo.RecordHeader{Key: "x-case", Value: []byte(r.name)})}
			if err := cl.ProduceSync(t.Context(), kr).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if r.reason != "" {
				wantInvalid[r.name] = r.reason
			}
		}

		inv := b.ReadAll(t, f.topics.Invalid, len(wantInvalid), 20*time.Second)
		gotInvalid := map[string]string{}
		for _, r := range inv {
			var name, reason string
			for _, h := range r.Headers {
				switch h.Key {
				case "x-case":
					name = string(h.Value)
				case "hl-invalid-reason":
					reason = string(h.Value)
				}
			}
			gotInvalid[name] = reason
		}
		for name, want := range wantInvalid {
			got, ok := gotInvalid[name]
			switch {
			case !ok:
				t.Errorf("%s: not in the invalid topic", name)
			case !strings.Contains(got, envelope.ErrMalformed.Error()) || !strings.Contains(got, want):
				t.Errorf("%s: reason %q, want it to say %q", name, got, want)
			}
		}
		for name := range gotInvalid {
			if _, ok := wantInvalid[name]; !ok {
				t.Errorf("%s: a good record went to the invalid topic: %q", name, gotInvalid[name])
			}
		}

		want := map[*testbackend.Receiver][]string{
			sinkA:      {"good-A-1", "good-A-2", "good-A-3", "good-A-4"},
			sinkATasks: {"good-A-1", "good-A-2", "good-A-3", "good-A-4"},
			sinkAQuiet: {"good-A-4"},
			sinkB:      {"good-B-1", "good-B-2"},
		}
		names := map[*testbackend.Receiver]string{sinkA: "a", sinkATasks: "a-tasks", sinkAQuiet: "a-quiet", sinkB: "b"}
		deadline := time.Now().Add(20 * time.Second)
		for _, s := range []*testbackend.Receiver{sinkA, sinkATasks, sinkAQuiet, sinkB} {
			for len(receivedIDs(t, s, names[s])) < len(want[s]) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(500 * time.Millisecond) // past maxWait: anything else routed has been sent
		for _, s := range []*testbackend.Receiver{sinkA, sinkATasks, sinkAQuiet, sinkB} {
			got := slices.Sorted(maps.Keys(receivedIDs(t, s, names[s])))
			if !slices.Equal(got, want[s]) {
				t.Errorf("endpoint %s received %v, want exactly %v", names[s], got, want[s])
			}
		}
		if st := f.d.Stats(); st.Invalid != int64(len(wantInvalid)) {
			t.Errorf("stats count %d invalid records, want %d", st.Invalid, len(wantInvalid))
		}
		assertCommittedToEnd(t, b, f.cfg.Group, f.topics.Events)
	})
}

// receivedIDs returns the eventIds in the 2xx posts of s, reporting every
// body that is not valid JSON and every event that arrived twice.
func receivedIDs(t *testing.T, s *testbackend.Receiver, name string) map[string]bool {
	t.Helper()
	posts, bad := s.Snapshot()
	if len(bad) > 0 {
		t.Fatalf("endpoint %s rejected deliveries: %v", name, bad)
	}
	ids := map[string]bool{}
	for _, p := range posts {
		if p.Status/100 != 2 {
			continue
		}
		var evs []map[string]any
		if !json.Valid(p.Body) || json.Unmarshal(p.Body, &evs) != nil {
			t.Fatalf("endpoint %s got a body that is not a JSON array of events: %s", name, p.Body)
		}
		for _, e := range evs {
			id := fmt.Sprint(e["eventId"])
			if ids[id] {
				t.Errorf("endpoint %s got %s twice", name, id)
			}
			ids[id] = true
		}
	}
	return ids
}

// assertCommittedToEnd waits until the group's committed offset of every
// non-empty partition of topic is the partition's end: no record is stuck
// pending, invalid ones included.
func assertCommittedToEnd(t *testing.T, b testbackend.Backend, group, topic string) {
	t.Helper()
	adm := b.Admin(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err := adm.ListEndOffsets(ctx, topic)
		committed, cerr := adm.FetchOffsets(ctx, group)
		cancel()
		var behind []string
		if err == nil && cerr == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset == 0 {
					return
				}
				c, ok := committed.Lookup(topic, o.Partition)
				if !ok || c.At != o.Offset {
					behind = append(behind, fmt.Sprintf("partition %d committed %d of %d", o.Partition, c.At, o.Offset))
				}
			})
		} else {
			behind = append(behind, fmt.Sprint(err, cerr))
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not committed to the end: %v", behind)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
