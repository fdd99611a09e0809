package producer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

func taskUpdated() producer.Event {
	return producer.Event{
		Type:     "task.updated",
		TenantID: "t-abcdef0123",
		Origin:   "revit-addin",
		Data: map[string]any{
			"task":   map[string]any{"id": "abc123", "tenantId": "t-abcdef0123", "status": "Done", "title": "Ducts"},
			"before": map[string]any{"id": "abc123", "tenantId": "t-abcdef0123", "status": "Todo", "title": "Ducts"},
		},
	}
}

func newProducer(t *testing.T, k testbackend.Kafka, topic string, mod func(*producer.Config)) *producer.Producer {
	t.Helper()
	cfg := producer.Config{Brokers: k.Brokers, Topic: topic}
	if mod != nil {
		mod(&cfg)
	}
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// TestPublishLandsWithKeyAndHeaders is the shared suite: kfake always, real
// Kafka when HOOKLINE_TEST_KAFKA is set.
func TestPublishLandsWithKeyAndHeaders(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 3)
		p := newProducer(t, k, topic, func(c *producer.Config) {
			c.Now = func() time.Time { return time.Date(2026, 4, 30, 14, 22, 1, 456e6, time.UTC) }
		})
		ctx := context.Background()

		pub, err := p.Publish(ctx, taskUpdated())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var asyncErr error
		var asyncID string
		wg.Add(1)
		ev := taskUpdated()
		ev.EventID = "task:abc123:2026-04-30T14:22:01.234Z"
		p.PublishAsync(ctx, ev, func(r producer.Published, err error) {
			asyncErr, asyncID = err, r.EventID
			wg.Done()
		})
		wg.Wait()
		if asyncErr != nil || asyncID != ev.EventID {
			t.Fatalf("async: id %q err %v", asyncID, asyncErr)
		}

		recs := k.ReadAll(t, topic, 2, 20*time.Second)
		if len(recs) != 2 {
			t.Fatalf("read %d records, want 2", len(recs))
		}
		if recs[0].Partition != recs[1].Partition {
			t.Errorf("same object landed on partitions %d and %d: per-object order lost", recs[0].Partition, recs[1].Partition)
		}
		for _, r := range recs {
			if string(r.Key) != "t-abcdef0123/abc123" {
				t.Errorf("key = %q, want tenantId/objectId", r.Key)
			}
			meta, err := envelope.FromRecord(r.Headers, r.Value) // headers agree with the body
			if err != nil {
				t.Fatal(err)
			}
			if meta.Type != "task.updated" || meta.TenantID != "t-abcdef0123" || meta.Origin != "revit-addin" ||
				strings.Join(meta.ChangedFields(), ",") != "status" {
				t.Errorf("headers = %+v", meta)
			}
			var env map[string]any
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatal(err)
			}
			if id, _ := env["eventId"].(string); id == "" {
				t.Errorf("no eventId in %s", r.Value)
			}
			data := env["data"].(map[string]any)
			for _, o := range []string{"task", "before"} {
				if _, ok := data[o].(map[string]any)["tenantId"]; ok {
					t.Errorf("data.%s still carries tenantId: %s", o, r.Value)
				}
			}
		}
		var first map[string]any
		_ = json.Unmarshal(recs[0].Value, &first)
		if first["eventId"] != pub.EventID || first["createdUtc"] != "2026-04-30T14:22:01.456Z" {
			t.Errorf("filled fields: eventId %v (published %s), createdUtc %v", first["eventId"], pub.EventID, first["createdUtc"])
		}
		if !strings.HasPrefix(pub.EventID, "task:") {
			t.Errorf("generated eventId %q", pub.EventID)
		}
	})
}

func TestBadInputTypedErrors(t *testing.T) {
	k := testbackend.NewFake(t)
	p := newProducer(t, k, "events", func(c *producer.Config) { c.MaxEventBytes = 2048 })
	ctx := context.Background()

	bad := func(mod func(*producer.Event)) error {
		ev := taskUpdated()
		mod(&ev)
		_, err := p.Publish(ctx, ev)
		var asyncErr error
		p.PublishAsync(ctx, ev, func(_ producer.Published, err error) { asyncErr = err })
		if (err == nil) != (asyncErr == nil) {
			t.Errorf("sync err %v, async err %v", err, asyncErr)
		}
		return err
	}

	if err := bad(func(e *producer.Event) { e.Type = "task.exploded" }); !errors.Is(err, producer.ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
	if err := bad(func(e *producer.Event) { e.TenantID = "" }); !errors.Is(err, producer.ErrMissingTenant) {
		t.Errorf("missing tenant: %v", err)
	}
	err := bad(func(e *producer.Event) { e.Data["task"].(map[string]any)["status"] = 7 })
	var se *producer.SchemaError
	if !errors.Is(err, producer.ErrSchema) || !errors.As(err, &se) || se.Pointer != "/data/task/status" {
		t.Errorf("wrong type for a field: %v (pointer %v)", err, se)
	}
	err = bad(func(e *producer.Event) { delete(e.Data, "before") })
	if !errors.As(err, &se) || se.Pointer != "/data/before" {
		t.Errorf("missing before: %v", err)
	}
	err = bad(func(e *producer.Event) { e.CreatedUTC = "yesterday" })
	if !errors.As(err, &se) || se.Pointer != "/createdUtc" {
		t.Errorf("bad createdUtc: %v", err)
	}
	err = bad(func(e *producer.Event) { e.Data["task"].(map[string]any)["title"] = strings.Repeat("x", 4096) })
	var tl *producer.TooLargeError
	if !errors.Is(err, producer.ErrTooLarge) || !errors.As(err, &tl) || tl.Max != 2048 || tl.Size <= 4096 {
		t.Errorf("oversize: %v", err)
	}
	if err := bad(func(e *producer.Event) {}); err != nil {
		t.Errorf("the valid event was refused: %v", err)
	}
}

func TestSchemaDirAddsTypes(t *testing.T) {
	dir := t.TempDir()
	schema := `{"type":"object","required":["invoice"],"properties":{"invoice":{"type":"object","required":["id","amount"],
		"properties":{"id":{"type":"string"},"amount":{"type":"number"}}}}}`
	if err := os.WriteFile(filepath.Join(dir, "invoice.paid.schema.json"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	k := testbackend.NewFake(t)
	p := newProducer(t, k, "events", func(c *producer.Config) { c.SchemaDir = dir })
	ev := producer.Event{Type: "invoice.paid", TenantID: "t-1", Data: map[string]any{"invoice": map[string]any{"id": "inv_1", "amount": 12.5}}}
	if _, err := p.Publish(context.Background(), ev); err != nil {
		t.Fatalf("extra type refused: %v", err)
	}
	ev.Data = map[string]any{"invoice": map[string]any{"id": "inv_1"}}
	var se *producer.SchemaError
	if _, err := p.Publish(context.Background(), ev); !errors.As(err, &se) || se.Pointer != "/data/invoice/amount" {
		t.Fatalf("extra schema not enforced: %v", err)
	}
	if _, err := p.Publish(context.Background(), taskUpdated()); err != nil {
		t.Fatalf("embedded types lost when a schema dir is given: %v", err)
	}
}

func TestParseEventKeepsNumbers(t *testing.T) {
	ev, err := producer.ParseEvent([]byte(`{"type":"project.budget_threshold","tenantId":"t-1","data":{"project":{"id":"p1"},
		"threshold":80,"usedPercent":80.10,"usedHours":96.12,"allocatedHours":120}}`))
	if err != nil {
		t.Fatal(err)
	}
	k := testbackend.NewFake(t)
	p := newProducer(t, k, "events", nil)
	if _, err := p.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	recs := k.ReadAll(t, "events", 1, 10*time.Second)
	if len(recs) != 1 || !strings.Contains(string(recs[0].Value), `"usedPercent":80.10`) {
		t.Fatalf("number text changed: %s", recs[0].Value)
	}
	if _, err := producer.ParseEvent([]byte(`{"type":"task.created","surprise":1}`)); !errors.Is(err, producer.ErrSchema) {
		t.Fatalf("unknown envelope field accepted: %v", err)
	}
}
