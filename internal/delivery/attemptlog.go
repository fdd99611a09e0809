package delivery

import (
	"strconv"
	"time"

	"github.com/hookline/hookline/internal/envelope"

	"github.com/twmb/franz-go/pkg/kgo"
)

// LogEntry is one attempt in the attempt-log topic, the source of the
// delivery log and endpoint health views.
type LogEntry struct {
	DeliveryID string    `json:"deliveryId"`
	EndpointID string    `json:"endpointId"`
	TenantID   string    `json:"tenantId"`
	Attempt    int       `json:"attempt"`
	Items      int       `json:"items"`
	Status     int       `json:"status"`
	LatencyMS  int64     `json:"latencyMs"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // at most 1 KiB
	At         time.Time `json:"at"`
	// NextDue is when the next attempt is due, on retries.
	NextDue *time.Time `json:"nextDue,omitempty"`
	// SplitFrom names the delivery this one was split from; SplitInto,
	// on an entry with outcome "split", the deliveries it became.
	SplitFrom string   `json:"splitFrom,omitempty"`
	SplitInto []string `json:"splitInto,omitempty"`
}

// OutcomeSplit is the outcome of a log entry recording that a delivery too
// large for a topic was split into smaller ones (each with its own id).
const OutcomeSplit = "split"

// SplitRecord builds the attempt-log entry saying d became parts because of
// reason. It is not an attempt: nothing was sent.
func SplitRecord(topic string, d *Delivery, parts []*Delivery, reason string) *kgo.Record {
	e := LogEntry{
		DeliveryID: d.ID, EndpointID: d.EndpointID, TenantID: d.TenantID, Attempt: d.Attempt, Items: d.Items,
		Status: d.LastStatus, Outcome: OutcomeSplit, Error: reason, At: time.Now().UTC(), SplitFrom: d.SplitFrom,
	}
	for _, p := range parts {
		e.SplitInto = append(e.SplitInto, p.ID)
	}
	return &kgo.Record{Topic: topic, Key: []byte(d.ID), Value: e.appendJSON(make([]byte, 0, 320+len(e.Error)))}
}

// LogRecord builds the attempt-log record of attempt a of d.
func LogRecord(topic string, d *Delivery, a Attempt, o Outcome, reason string) *kgo.Record {
	e := LogEntry{
		DeliveryID: d.ID, EndpointID: d.EndpointID, TenantID: d.TenantID, Attempt: d.Attempt, Items: d.Items,
		Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Outcome: o.String(), Error: reason,
		Response: string(a.Excerpt), At: time.Now().UTC(), SplitFrom: d.SplitFrom,
	}
	if o == Retry && !d.Due.IsZero() {
		due := d.Due.UTC()
		e.NextDue = &due
	}
	return &kgo.Record{Topic: topic, Key: []byte(d.ID), Value: e.appendJSON(make([]byte, 0, 256+len(e.Response)+len(e.Error)))}
}

// appendJSON encodes e as encoding/json would, without reflection: one of
// these is written per attempt, so per event in single-event mode.
func (e *LogEntry) appendJSON(b []byte) []byte {
	str := func(key, v string) {
		b = append(b, key...)
		b = envelope.AppendString(b, v)
	}
	num := func(key string, v int64) {
		b = append(b, key...)
		b = strconv.AppendInt(b, v, 10)
	}
	str(`{"deliveryId":`, e.DeliveryID)
	str(`,"endpointId":`, e.EndpointID)
	str(`,"tenantId":`, e.TenantID)
	num(`,"attempt":`, int64(e.Attempt))
	num(`,"items":`, int64(e.Items))
	num(`,"status":`, int64(e.Status))
	num(`,"latencyMs":`, e.LatencyMS)
	str(`,"outcome":`, e.Outcome)
	if e.Error != "" {
		str(`,"error":`, e.Error)
	}
	if e.Response != "" {
		str(`,"response":`, e.Response)
	}
	str(`,"at":`, e.At.Format(time.RFC3339Nano))
	if e.NextDue != nil {
		str(`,"nextDue":`, e.NextDue.Format(time.RFC3339Nano))
	}
	if e.SplitFrom != "" {
		str(`,"splitFrom":`, e.SplitFrom)
	}
	if len(e.SplitInto) > 0 {
		b = append(b, `,"splitInto":[`...)
		for i, id := range e.SplitInto {
			if i > 0 {
				b = append(b, ',')
			}
			b = envelope.AppendString(b, id)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
