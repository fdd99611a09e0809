package dispatcher_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestForeignRecordsMeetTheProducersRules: a producer that does not use
// the producer library writes a well-formed 2 MB event (eight times the
// library's limit) and an event whose type is outside the catalog. Neither
// reaches an endpoint that takes every type; both go to the
// invalid-records topic with a reason naming the rule, and the events
// after them are delivered.
func TestForeignRecordsMeetTheProducersRules(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		ep := endpointFor("all", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems, e.EventTypes = 1, []string{"*"} })
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, nil)
		adm := b.Admin(t)
		setTopicLimit(t, adm, f.topics.Events, 16<<20)
		cl := b.Client(t, kgo.ProducerBatchMaxBytes(16<<20), kgo.DefaultProduceTopic(f.topics.Events))
		envelope := func(typ, id, data string) []byte {
			return []byte(fmt.Sprintf(`{"type":%q,"eventId":%q,"tenantId":"t-1","createdUtc":"2026-12-07T10:00:00.000Z","data":%s}`, typ, id, data))
		}
		huge := envelope("task.created", "huge-1", `{"task":{"id":"h1","notes":"`+strings.Repeat("x", 2<<20)+`"}}`)
		unknown := envelope("leave.approved", "leave-1", `{"leave":{"id":"l1"}}`)
		for _, v := range [][]byte{huge, unknown} {
			produceLarge(t, cl, &kgo.Record{Key: []byte("t-1"), Value: v})
		}
		good := f.publish(t, taskEvent("t-1", "after", "s"))
		seen := s.Delivered(t, 1, 30*time.Second)
		time.Sleep(500 * time.Millisecond) // anything else would have arrived by now
		seen = s.Delivered(t, 1, time.Second)
		if len(seen) != 1 || seen[good[0]] != 1 {
			t.Fatalf("the endpoint got %v, want only the good event %s", seen, good[0])
		}
		reasons := map[int]string{}
		for _, r := range f.read(t, f.topics.Invalid, 2) {
			for _, h := range r.Headers {
				if h.Key == "hl-invalid-reason" {
					reasons[len(r.Value)] = string(h.Value)
				}
			}
		}
		for size, want := range map[int]string{len(huge): "over the 262144-byte limit", len(unknown): `"leave.approved" is not in the event catalog`} {
			t.Logf("invalid record of %d bytes: %s", size, reasons[size])
			if !strings.Contains(reasons[size], want) {
				t.Errorf("invalid record of %d bytes has reason %q, want it to say %q", size, reasons[size], want)
			}
		}
	})
}
