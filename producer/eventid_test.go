package producer_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

func taskWrite(status, updated string) producer.Event {
	task := map[string]any{"id": "abc123", "status": status, "title": "Ducts"}
	if updated != "" {
		task["updatedUtc"] = updated
	}
	return producer.Event{Type: "task.updated", TenantID: "t-abcdef0123",
		Data: map[string]any{"task": task, "before": map[string]any{"id": "abc123", "status": "Todo"}}}
}

// TestRetriedPublishKeepsItsEventID is a service publishing a write, timing
// out, and publishing the same write again: both tries carry one eventId,
// so the receiver's dedupe by eventId holds, and every record on the topic
// has it. A different write gets a different id.
func TestRetriedPublishKeepsItsEventID(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 1)
		p := newProducer(t, k, topic, nil)
		expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		cases := []struct {
			name        string
			write, next producer.Event
			want        string // the derived id of write, or a pattern
		}{
			{"updatedUtc", taskWrite("Done", "2026-04-30T14:22:01.234Z"), taskWrite("Done", "2026-04-30T14:25:00.000Z"),
				`^task:abc123:2026-04-30T14:22:01\.234Z$`},
			{"version", withVersion(taskWrite("Done", ""), "17"), withVersion(taskWrite("Done", ""), "18"), `^task:abc123:17$`},
			{"neither: from type and data", taskWrite("Done", ""), taskWrite("Blocked", ""), `^task:abc123:h[0-9a-f]{24}$`},
		}
		seen := map[string]bool{}
		for _, tc := range cases {
			first, err := p.Publish(expired, tc.write)
			if err == nil {
				t.Fatalf("%s: publish with an expired context succeeded", tc.name)
			}
			retried, err := p.Publish(context.Background(), tc.write)
			if err != nil {
				t.Fatal(err)
			}
			next, err := p.Publish(context.Background(), tc.next)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: timed out %q, retried %q, next write %q", tc.name, first.EventID, retried.EventID, next.EventID)
			if first.EventID != retried.EventID || !regexp.MustCompile(tc.want).MatchString(retried.EventID) {
				t.Errorf("%s: ids %q then %q, want both matching %s", tc.name, first.EventID, retried.EventID, tc.want)
			}
			if next.EventID == retried.EventID || seen[next.EventID] || seen[retried.EventID] {
				t.Errorf("%s: two writes share an id: %q", tc.name, next.EventID)
			}
			seen[retried.EventID], seen[next.EventID] = true, true
		}
		// What reached the topic carries only those ids: a try that did
		// land before its timeout is a duplicate a receiver drops.
		recs := k.ReadAll(t, topic, 2*len(cases), 10*time.Second)
		for _, r := range recs {
			var env struct{ EventID string }
			if err := json.Unmarshal(r.Value, &env); err != nil || !seen[env.EventID] {
				t.Errorf("record with eventId %q (%v)", env.EventID, err)
			}
		}
	})
}

func withVersion(ev producer.Event, v string) producer.Event { ev.Version = v; return ev }

func TestEventIDRules(t *testing.T) {
	k := testbackend.NewFake(t)
	topic := k.Topic(t, 1)
	ctx := context.Background()
	publish := func(p *producer.Producer, ev producer.Event) string {
		t.Helper()
		res, err := p.Publish(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return res.EventID
	}
	derived := newProducer(t, k, topic, nil)
	given := taskWrite("Done", "2026-04-30T14:22:01.234Z")
	given.EventID, given.Version = "caller-id-1", "99"
	if id := publish(derived, given); id != "caller-id-1" {
		t.Errorf("a caller's eventId became %q", id)
	}
	if a, b := publish(derived, withVersion(taskWrite("Done", "2026-04-30T14:22:01.234Z"), "7")), "task:abc123:7"; a != b {
		t.Errorf("Version comes before updatedUtc: got %q, want %q", a, b)
	}
	tenanted := taskWrite("Done", "")
	tenanted.Data["task"].(map[string]any)["tenantId"] = "t-abcdef0123"
	if a, b := publish(derived, tenanted), publish(derived, taskWrite("Done", "")); a != b {
		t.Errorf("the stripped tenant field changed the id: %q vs %q", a, b)
	}
	byRevision := newProducer(t, k, topic, func(c *producer.Config) { c.VersionField = "revision" })
	ev := taskWrite("Done", "2026-04-30T14:22:01.234Z")
	ev.Data["task"].(map[string]any)["revision"] = json.Number("42")
	if id := publish(byRevision, ev); id != "task:abc123:42" {
		t.Errorf("VersionField revision: %q", id)
	}
	random := newProducer(t, k, topic, func(c *producer.Config) { c.RandomEventIDs = true })
	a, b := publish(random, taskWrite("Done", "")), publish(random, taskWrite("Done", ""))
	if a == b || !regexp.MustCompile(`^task:[0-9a-f]{24}$`).MatchString(a) {
		t.Errorf("RandomEventIDs: %q and %q", a, b)
	}
	if id := publish(random, taskWrite("Done", "2026-04-30T14:22:01.234Z")); id != "task:abc123:2026-04-30T14:22:01.234Z" {
		t.Errorf("RandomEventIDs still derives from a version: %q", id)
	}
}
