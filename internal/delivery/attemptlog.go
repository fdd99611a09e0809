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
}

// LogRecord builds the attempt-log record of attempt a of d.
func LogRecord(topic string, d *Delivery, a Attempt, o Outcome, reason string) *kgo.Record {
	e := LogEntry{
		DeliveryID: d.ID, EndpointID: d.EndpointID, TenantID: d.TenantID, Attempt: d.Attempt, Items: d.Items,
		Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Outcome: o.String(), Error: reason,
		Response: string(a.Excerpt), At: time.Now().UTC(),
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
	return append(b, '}')
}
