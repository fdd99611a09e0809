package dispatcher_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bigTask is a task.created event of about size bytes. The notes are
// random, so compression does not shrink the batch under a topic's limit.
func bigTask(tenant, id string, size int) producer.Event {
	notes := make([]byte, size/2)
	_, _ = rand.Read(notes)
	return producer.Event{Type: "task.created", TenantID: tenant,
		Data: map[string]any{"task": map[string]any{"id": id, "notes": hex.EncodeToString(notes)}}}
}

// setTopicLimit sets a topic's max.message.bytes.
func setTopicLimit(t *testing.T, adm *kadm.Client, topic string, n int) {
	t.Helper()
	v := strconv.Itoa(n)
	resp, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &v}}, topic)
	if err == nil {
		_, err = resp.On(topic, nil)
	}
	if err != nil {
		t.Fatalf("set max.message.bytes of %s: %v", topic, err)
	}
}

// produceLarge produces a record larger than a broker's default limit to a
// topic whose limit was just raised: a broker applies a topic's new
// max.message.bytes a moment after the change is acknowledged, so a
// refusal for size is tried again for a few seconds.
func produceLarge(t *testing.T, cl *kgo.Client, rec *kgo.Record) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cl.ProduceSync(context.Background(), rec).FirstErr()
		if err == nil {
			return
		}
		if !errors.Is(err, kerr.MessageTooLarge) || time.Now().After(deadline) {
			t.Fatalf("produce %d bytes: %v", len(rec.Value), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitNoLag waits until the group has committed every partition of topic
// up to its end, and fails naming the lag otherwise.
func waitNoLag(t *testing.T, adm *kadm.Client, group, topic string, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	var lag int64
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			continue
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			continue
		}
		lag = 0
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := committed.Lookup(topic, o.Partition)
			at := int64(0)
			if ok {
				at = c.At
			}
			lag += o.Offset - at
		})
		if lag == 0 {
			return
		}
	}
	t.Fatalf("group %s still lags %d records on %s", group, lag, topic)
}

// TestDeliveriesLargerThanTheBrokerDefaultAreHandedOff: a failing endpoint
// with batches of 100 events of 15 KB (1.5 MB deliveries, more than a
// broker's default 1 MiB per message) gets every batch into the retry tier
// and the events topic fully committed.
func TestDeliveriesLargerThanTheBrokerDefaultAreHandedOff(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		s.SetStatus(func(int) int { return 500 })
		ep := endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 100, endpoints.Duration(time.Hour)
		})
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, nil)
		var evs []producer.Event
		for i := 0; i < 300; i++ {
			evs = append(evs, bigTask("t-1", "task"+strconv.Itoa(i), 15_000))
		}
		f.publish(t, evs...)
		tier := f.retry.Topic(0)
		recs := f.read(t, tier, 3)
		items := 0
		for _, r := range recs {
			d, err := delivery.FromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			items += d.Items
			if len(r.Value) < 1<<20 {
				t.Errorf("delivery %s is %d bytes; the test wants them above 1 MiB", d.ID, len(r.Value))
			}
		}
		if items != 300 {
			t.Fatalf("retry tier holds %d events in %d deliveries, want 300", items, len(recs))
		}
		waitNoLag(t, b.Admin(t), f.cfg.Group, f.topics.Events, 20*time.Second)
	})
}

// TestTooLargeDeliveriesAreSplit: when a retry tier accepts less than a
// delivery (an operator lowered its limit), the delivery is split into
// parts that fit, each with its own id and the original's id in
// hl-split-from, recorded in the attempt log; every event ends in the tier.
func TestTooLargeDeliveriesAreSplit(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		s.SetStatus(func(int) int { return 503 })
		ep := endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 100, endpoints.Duration(time.Hour)
		})
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, nil)
		tier := f.retry.Topic(0)
		const limit = 300 << 10
		waitTopic(t, b.Admin(t), tier)
		setTopicLimit(t, b.Admin(t), tier, limit)
		var evs []producer.Event
		for i := 0; i < 100; i++ {
			evs = append(evs, bigTask("t-1", "task"+strconv.Itoa(i), 15_000))
		}
		ids := f.publish(t, evs...)
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		got := map[string]bool{}
		parents := map[string]bool{}
		// 1.5 MB in halves until each fits 300 KiB: 8 parts of 12 or 13 events.
		parts := f.read(t, tier, 8)
		{
			for _, r := range parts {
				d, err := delivery.FromRecord(r)
				if err != nil {
					t.Fatal(err)
				}
				if d.SplitFrom == "" || d.SplitFrom == d.ID {
					t.Fatalf("delivery %s of %d bytes in the tier is not marked as split", d.ID, len(r.Value))
				}
				if len(r.Value) > limit {
					t.Fatalf("delivery %s of %d bytes exceeds the topic limit", d.ID, len(r.Value))
				}
				parents[d.SplitFrom] = true
				for _, e := range events(t, d.Body) {
					id := e["eventId"].(string)
					if got[id] {
						t.Fatalf("event %s in two parts", id)
					}
					got[id] = true
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("the tier holds %d of %d events", len(got), len(want))
		}
		splits := 0
		for _, r := range f.read(t, f.topics.Attempts, 8) { // the first attempt and 7 splits
			var e deliverylog.Entry
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			if e.Outcome == deliverylog.OutcomeSplit && len(e.SplitInto) == 2 {
				splits++
			}
		}
		if splits == 0 {
			t.Fatal("no split recorded in the attempt log")
		}
		if splits != 7 || len(parts) != 8 {
			t.Fatalf("%d splits logged and %d parts in the tier, want 7 and 8", splits, len(parts))
		}
		t.Logf("100 events of 15 KB in one delivery: %d splits in the attempt log, %d parts in the tier (from %d split deliveries)", splits, len(parts), len(parents))
		waitNoLag(t, b.Admin(t), f.cfg.Group, f.topics.Events, 20*time.Second)
	})
}

// TestOversizeInvalidRecordsDoNotStall: values that are not envelopes, of
// 1.4 MB and 4.5 MB (more than the buffered-bytes cap together), and one
// larger than any topic of ours accepts, all reach the invalid-records
// topic (the largest cut, with its size), and good events after them are
// delivered: the dispatcher keeps consuming and commits everything.
func TestOversizeInvalidRecordsDoNotStall(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := newSink(t, "X-Hookline")
		ep := endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 10, endpoints.Duration(200*time.Millisecond)
		})
		f := newFixture(t, b, []*endpoints.Endpoint{ep}, func(c *dispatcher.Config) { c.MaxBufferedBytes = 8 << 20 })
		adm := b.Admin(t)
		setTopicLimit(t, adm, f.topics.Events, 16<<20)
		cl := b.Client(t, kgo.ProducerBatchMaxBytes(16<<20), kgo.DefaultProduceTopic(f.topics.Events))
		sizes := []int{1_400_000, 4_500_000, 4_500_000, 4_500_000, 9_000_000}
		for i, n := range sizes {
			v := make([]byte, n)
			_, _ = rand.Read(v)
			produceLarge(t, cl, &kgo.Record{Key: []byte("k" + strconv.Itoa(i)), Value: v})
		}
		var evs []producer.Event
		for i := 0; i < 20; i++ {
			evs = append(evs, taskEvent("t-1", "task"+strconv.Itoa(i), "Todo"))
		}
		f.publish(t, evs...)
		if seen := s.Delivered(t, 20, 30*time.Second); len(seen) != 20 {
			t.Fatalf("%d of 20 good events delivered after the oversize records", len(seen))
		}
		inv := f.read(t, f.topics.Invalid, len(sizes))
		truncated := 0
		for _, r := range inv {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			if h["hl-invalid-reason"] == "" || h["hl-source"] == "" {
				t.Errorf("invalid record without reason or source: %v", h)
			}
			if h["hl-truncated"] == "true" {
				truncated++
				if h["hl-original-size"] != "9000000" || len(r.Value) > 64<<10 {
					t.Errorf("truncated record: original size %q, kept %d bytes", h["hl-original-size"], len(r.Value))
				}
			}
		}
		if truncated != 1 {
			t.Fatalf("%d truncated invalid records, want 1 (the 9 MB one)", truncated)
		}
		waitNoLag(t, adm, f.cfg.Group, f.topics.Events, 20*time.Second)
		if st := f.d.Stats(); st.Buffered != 0 {
			t.Fatalf("%d bytes still counted as buffered", st.Buffered)
		}
	})
}

// waitTopic waits until topic exists (the dispatcher creates it at start).
func waitTopic(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		td, err := adm.ListTopics(context.Background(), topic)
		if err == nil && td.Has(topic) && td[topic].Err == nil {
			return
		}
	}
	t.Fatalf("topic %s not created", topic)
}
