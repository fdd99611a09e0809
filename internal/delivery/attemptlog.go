package delivery

import (
	"encoding/json"
	"time"

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
	v, _ := json.Marshal(e) // plain fields: cannot fail
	return &kgo.Record{Topic: topic, Key: []byte(d.ID), Value: v}
}
