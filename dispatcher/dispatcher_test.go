package dispatcher_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

func TestSealsByItemsWithByteExactBatchBodies(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		ep := endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 5, endpoints.Duration(time.Hour)
		})
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, nil)
		var evs []producer.Event
		for i := 0; i < 10; i++ {
			evs = append(evs, taskEvent("t-1", "task"+strconv.Itoa(i), "Todo")) // one key per object: spread over partitions
		}
		f.publish(t, evs...)
		seen := s.Delivered(t, 10, 20*time.Second)
		posts, _ := s.Snapshot()
		if len(posts) != 2 || len(seen) != 10 {
			t.Fatalf("%d posts with %d distinct events, want 2 posts of 5", len(posts), len(seen))
		}
		// Each body is "[" + the records' exact bytes joined by "," + "]".
		values := map[string][]byte{}
		for _, r := range f.read(t, f.topics.Events, 10) {
			values[string(r.Value)] = r.Value
		}
		for _, p := range posts {
			if got := p.Header.Get("X-Hookline-Batch-Size"); got != "5" {
				t.Errorf("Batch-Size = %q, want 5", got)
			}
			if got := p.Header.Get("X-Hookline-Event"); got != "task.created" {
				t.Errorf("Event = %q, want task.created", got)
			}
			if got := p.Header.Get("User-Agent"); got != "Hookline-Webhook/1.0" {
				t.Errorf("User-Agent = %q", got)
			}
			inner := p.Body[1 : len(p.Body)-1]
			if p.Body[0] != '[' || p.Body[len(p.Body)-1] != ']' {
				t.Fatalf("not an array: %s", p.Body)
			}
			n := 0
			for len(inner) > 0 {
				matched := false
				for v := range values {
					if bytes.HasPrefix(inner, []byte(v)) {
						inner = bytes.TrimPrefix(inner[len(v):], []byte(","))
						n++
						matched = true
						break
					}
				}
				if !matched {
					t.Fatalf("body is not spliced from record bytes: %s", p.Body)
				}
			}
			if n != 5 {
				t.Fatalf("body holds %d records", n)
			}
		}
		if posts[0].Header.Get("X-Hookline-Delivery") == posts[1].Header.Get("X-Hookline-Delivery") {
			t.Fatal("two deliveries share an id")
		}
	})
}

func TestSealsByBytesAndByTime(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		bySize, byTime := newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
		f := newFixture(t, b, []*endpoints.Endpoint{
			endpointFor("size", "t-1", bySize, func(e *endpoints.Endpoint) {
				e.MaxBytes, e.MaxWait = 700, endpoints.Duration(time.Hour) // about three events a body
			}),
			endpointFor("time", "t-1", byTime, func(e *endpoints.Endpoint) { e.MaxWait = endpoints.Duration(300 * time.Millisecond) }),
		}, nil)
		var evs []producer.Event
		for i := 0; i < 9; i++ {
			evs = append(evs, taskEvent("t-1", "same-object", "Todo")) // one partition: stable order
		}
		start := time.Now()
		f.publish(t, evs...)
		byTime.Delivered(t, 9, 20*time.Second)
		timed, _ := byTime.Snapshot()
		if len(timed) != 1 {
			t.Fatalf("time sink got %d posts, want 1 batch sealed by maxWait", len(timed))
		}
		if waited := timed[0].At.Sub(start); waited < 300*time.Millisecond {
			t.Fatalf("sealed after %s, before maxWait", waited)
		}
		// The size sink gets full 700-byte batches; the last, partial one
		// waits for maxWait (an hour), so 9 events arrive as 3+3 at least.
		deadline := time.Now().Add(20 * time.Second)
		for {
			posts, _ := bySize.Snapshot()
			total := 0
			for _, p := range posts {
				if len(p.Body) > 700 {
					t.Fatalf("body of %d bytes over maxBytes 700", len(p.Body))
				}
				total += len(events(t, p.Body))
			}
			if len(posts) >= 2 && total >= 6 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("size sink: %d posts, %d events", len(posts), total)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestSingleEventModeSendsTheEnvelopeItself(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })}, nil)
		ev := taskEvent("t-1", "abc123", "Todo")
		ev.Type = "task.updated"
		ev.Data["before"] = map[string]any{"id": "abc123", "title": "Ducts abc123", "status": "Done"}
		f.publish(t, ev, taskEvent("t-1", "abc123", "Todo"))
		s.Delivered(t, 2, 20*time.Second)
		recs := f.read(t, f.topics.Events, 2)
		posts, _ := s.Snapshot()
		for i, p := range posts {
			if !bytes.Equal(p.Body, recs[i].Value) {
				t.Fatalf("body differs from the record:\n%s\n%s", p.Body, recs[i].Value)
			}
			if p.Header.Get("X-Hookline-Batch-Size") != "" {
				t.Error("Batch-Size header on a single event")
			}
		}
		if posts[0].Header.Get("X-Hookline-Event") != "task.updated" || posts[1].Header.Get("X-Hookline-Event") != "task.created" {
			t.Errorf("event headers %q %q", posts[0].Header.Get("X-Hookline-Event"), posts[1].Header.Get("X-Hookline-Event"))
		}
	})
}

func TestFailedDeliveryGoesToFirstRetryTierWithItsIDAndBody(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		s.SetStatus(func(int) int { return 503 })
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 3, endpoints.Duration(time.Hour)
		})}, nil)
		f.publish(t, taskEvent("t-1", "a", "x"), taskEvent("t-1", "a", "y"), taskEvent("t-1", "a", "z"))
		recs := f.read(t, f.retry.Topic(0), 1)
		del, err := delivery.FromRecord(recs[0])
		if err != nil {
			t.Fatal(err)
		}
		posts, _ := s.Snapshot()
		if len(posts) != 1 {
			t.Fatalf("%d posts, want 1 (the dispatcher makes one attempt)", len(posts))
		}
		if del.ID != posts[0].Header.Get("X-Hookline-Delivery") || !bytes.Equal(del.Body, posts[0].Body) {
			t.Fatalf("retry record changed the delivery: id %s vs %s", del.ID, posts[0].Header.Get("X-Hookline-Delivery"))
		}
		if del.Attempt != 1 || del.LastStatus != 503 || del.Items != 3 || !del.Batch || del.EndpointID != "ep1" || del.Reason != "HTTP 503" {
			t.Fatalf("retry record %+v", del)
		}
		if d := time.Until(del.Due); d < 50*time.Second || d > time.Minute {
			t.Fatalf("due in %s, want about the first tier's 1m", d)
		}
		logs := f.read(t, f.topics.Attempts, 1)
		if !strings.Contains(string(logs[0].Value), `"status":503`) || !strings.Contains(string(logs[0].Value), del.ID) {
			t.Fatalf("attempt log %s", logs[0].Value)
		}
	})
}

func TestMatchingFilters(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		all, tasks, quiet, other := newSink(t, "X-Hookline"), newSink(t, "X-Hookline"), newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
		single := func(e *endpoints.Endpoint) { e.MaxItems = 1 }
		f := newFixture(t, b, []*endpoints.Endpoint{
			endpointFor("all", "t-1", all, single),
			endpointFor("tasks", "t-1", tasks, func(e *endpoints.Endpoint) {
				e.MaxItems, e.EventTypes, e.IgnoreOrigins = 1, []string{"task.*"}, []string{"zapier"}
			}),
			endpointFor("quiet", "t-1", quiet, func(e *endpoints.Endpoint) {
				e.MaxItems, e.EventTypes, e.IgnoreFields = 1, []string{"task.updated"}, []string{"seenUtc", "updatedUtc"}
			}),
			endpointFor("other", "t-2", other, single),
			endpointFor("off", "t-1", other, func(e *endpoints.Endpoint) { e.MaxItems, e.Disabled = 1, true }),
		}, nil)
		noisy := producer.Event{Type: "task.updated", TenantID: "t-1", Data: map[string]any{
			"task": map[string]any{"id": "a", "seenUtc": "2"}, "before": map[string]any{"id": "a", "seenUtc": "1"}}}
		real := producer.Event{Type: "task.updated", TenantID: "t-1", Data: map[string]any{
			"task": map[string]any{"id": "a", "seenUtc": "3", "status": "Done"}, "before": map[string]any{"id": "a", "seenUtc": "2", "status": "Todo"}}}
		loop := taskEvent("t-1", "b", "Todo")
		loop.Origin = "zapier"
		member := producer.Event{Type: "member.joined", TenantID: "t-1", Data: map[string]any{"member": map[string]any{"id": "u1"}}}
		f.publish(t, noisy, real, loop, member)
		all.Delivered(t, 4, 20*time.Second)
		tasks.Delivered(t, 2, 20*time.Second) // noisy and real; not the zapier write, not the member
		quiet.Delivered(t, 1, 20*time.Second) // only the real change
		time.Sleep(300 * time.Millisecond)
		count := func(s *testbackend.Receiver) int { p, _ := s.Snapshot(); return len(p) }
		if n := count(tasks); n != 2 {
			t.Errorf("tasks endpoint got %d posts, want 2", n)
		}
		if n := count(quiet); n != 1 {
			t.Errorf("ignore-fields endpoint got %d posts, want 1", n)
		}
		if n := count(other); n != 0 {
			t.Errorf("another tenant's (or a disabled) endpoint got %d posts", n)
		}
	})
}

func TestMalformedAndHeaderlessRecords(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1 })}, nil)
		cl := b.Client(t)
		headerless := []byte(`{"type":"task.created","eventId":"from-node-1","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"n1"}}}`)
		for _, v := range [][]byte{[]byte(`{"type":`), headerless} {
			if err := cl.ProduceSync(t.Context(), kgoRecord(f.topics.Events, v)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		seen := s.Delivered(t, 1, 20*time.Second)
		if seen["from-node-1"] != 1 {
			t.Fatalf("headerless record not delivered: %v", seen)
		}
		inv := f.read(t, f.topics.Invalid, 1)
		var reason string
		for _, h := range inv[0].Headers {
			if h.Key == "hl-invalid-reason" {
				reason = string(h.Value)
			}
		}
		if string(inv[0].Value) != `{"type":` || !strings.Contains(reason, envelope.ErrMalformed.Error()) {
			t.Fatalf("invalid record %q reason %q", inv[0].Value, reason)
		}
		if st := f.d.Stats(); st.Invalid != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestBlockedAddressAndGoneEndpointAreDeadLettered(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		gone := newSink(t, "X-Hookline")
		gone.SetStatus(func(int) int { return 410 })
		blocked := &endpoints.Endpoint{ID: "blocked", TenantID: "t-1", URL: "http://10.0.0.1:8080/hook", Secrets: []string{secret}, MaxItems: 1}
		metadata := &endpoints.Endpoint{ID: "metadata", TenantID: "t-1", URL: "http://169.254.169.254/latest", Secrets: []string{secret}, MaxItems: 1}
		f := newFixture(t, b, []*endpoints.Endpoint{blocked, metadata, endpointFor("gone", "t-1", gone, func(e *endpoints.Endpoint) { e.MaxItems = 1 })}, nil)
		f.publish(t, taskEvent("t-1", "a", "x"))
		dead := f.read(t, f.topics.Dead, 3)
		reasons := map[string]string{}
		for _, r := range dead {
			del, err := delivery.FromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			reasons[del.EndpointID] = del.Reason
			if len(events(t, del.Body)) != 1 {
				t.Fatalf("dead letter lost its body: %s", del.Body)
			}
		}
		for _, id := range []string{"blocked", "metadata"} {
			if !strings.Contains(reasons[id], "blocked destination") || !strings.Contains(reasons[id], "outside the allowed networks") {
				t.Errorf("%s: reason %q", id, reasons[id])
			}
		}
		if !strings.Contains(reasons["gone"], "410") {
			t.Errorf("gone: reason %q", reasons["gone"])
		}
		if ep := f.set.Get("gone"); !ep.Disabled {
			t.Error("endpoint answering 410 was not disabled")
		}
		f.publish(t, taskEvent("t-1", "b", "y"))
		time.Sleep(500 * time.Millisecond)
		if p, _ := gone.Snapshot(); len(p) != 1 {
			t.Fatalf("disabled endpoint got %d posts", len(p))
		}
		fmt.Println("blocked:", reasons["blocked"])
	})
}

// TestRestartSkipsWhatRedisSaysIsSettled stops a member abruptly before it
// commits anything; its successor re-reads every record and must send none
// of them again, because the settled spans are in Redis.
func TestRestartSkipsWhatRedisSaysIsSettled(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 4, endpoints.Duration(50*time.Millisecond)
		})}, func(c *dispatcher.Config) { c.CommitInterval = time.Hour })
		var evs []producer.Event
		for i := 0; i < 20; i++ {
			evs = append(evs, taskEvent("t-1", "obj"+strconv.Itoa(i), "Todo"))
		}
		f.publish(t, evs...)
		s.Delivered(t, 20, 20*time.Second)
		before, _ := s.Snapshot()
		f.kill() // no drain, no commit

		d2 := f.start(t)
		deadline := time.Now().Add(20 * time.Second)
		for d2.Stats().Consumed < 20 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		after, _ := s.Snapshot()
		st := d2.Stats()
		if st.Consumed < 20 || st.Skipped != 20 || len(after) != len(before) {
			t.Fatalf("successor consumed %d, skipped %d; posts %d -> %d", st.Consumed, st.Skipped, len(before), len(after))
		}
	})
}
