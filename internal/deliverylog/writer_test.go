package deliverylog

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestWriterWritesEveryAttemptByClose: records lingering (here for a
// whole minute) are all in the topic once Close returns, each decoding to
// the attempt it logged.
func TestWriterWritesEveryAttemptByClose(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 3)
		// Close's flush is given room: on a loaded machine, a broker
		// creating the topic can take longer than the default 5 s, and
		// what is asserted here is that Close writes what lingers.
		w, err := NewWriter(WriterConfig{Brokers: k.Brokers, Topic: topic, Linger: time.Minute, FlushTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		const n = 500
		for i := 0; i < n; i++ {
			d := &delivery.Delivery{ID: fmt.Sprintf("d%03d", i), EndpointID: "ep1", TenantID: "t-1", Attempt: 1, Items: 1}
			w.Attempt(d, delivery.Attempt{Status: 204, Latency: time.Millisecond}, delivery.Delivered, "")
		}
		w.Close()
		if w.Failed() != 0 {
			t.Fatalf("%d records failed", w.Failed())
		}
		seen := map[string]bool{}
		for _, r := range k.ReadAll(t, topic, n, 10*time.Second) {
			var e Entry
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			if e.Outcome != "delivered" || e.Status != 204 || string(r.Key) != e.DeliveryID {
				t.Fatalf("record %s: want a delivered 204 keyed by its delivery", r.Value)
			}
			seen[e.DeliveryID] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct attempts in the log, want %d", len(seen), n)
		}
	})
}

// TestWriterNeverBlocksWithKafkaAway: with no broker to write to and
// the buffer full, logging an attempt returns at once (the record is
// dropped and counted) instead of holding the delivery up, Close returns
// after its flush timeout, and every record is counted.
func TestWriterNeverBlocksWithKafkaAway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	w, err := NewWriter(WriterConfig{Brokers: []string{addr}, Topic: "attempts",
		MaxBuffered: 10, FlushTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := 0; i < n; i++ {
		w.Attempt(&delivery.Delivery{ID: fmt.Sprintf("d%d", i)}, delivery.Attempt{Status: 204}, delivery.Delivered, "")
	}
	w.Close()
	// Nothing was written: every record is counted as failed, refused at
	// once or failed at Close.
	deadline := time.Now().Add(5 * time.Second)
	for w.Failed() != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the last failures are reported as Close winds down
	}
	if failed := w.Failed(); failed != n {
		t.Fatalf("%d of %d records counted as failed, want all", failed, n)
	}
}
