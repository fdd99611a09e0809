package deliverylog

import (
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/envelope"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Entry is one attempt in the attempt-log topic, the source of the
// delivery log and endpoint health views. Writer writes entries; the
// Indexer reads them into Redis. Its JSON is the topic's record format,
// so its field names do not change.
type Entry struct {
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
	// Record is where the record the outcome wrote (to a retry tier or
	// the dead letters) landed, so that Retry now reads the delivery from
	// there instead of searching the topics; nil when the attempt wrote
	// none (a 2xx, or a stop before the write landed).
	Record *Location `json:"record,omitempty"`
}

// Location is where a delivery record is in Kafka.
type Location struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// LocationOf is where rec landed; rec must have been produced.
func LocationOf(rec *kgo.Record) Location {
	return Location{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
}

// String is topic/partition@offset (a topic name holds neither '/' nor '@').
func (l Location) String() string {
	return l.Topic + "/" + strconv.FormatInt(int64(l.Partition), 10) + "@" + strconv.FormatInt(l.Offset, 10)
}

// ParseLocation reads what String wrote.
func ParseLocation(s string) (Location, bool) {
	at := strings.LastIndexByte(s, '@')
	slash := strings.LastIndexByte(s, '/')
	if slash <= 0 || at < slash {
		return Location{}, false
	}
	p, err1 := strconv.ParseInt(s[slash+1:at], 10, 32)
	o, err2 := strconv.ParseInt(s[at+1:], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return Location{}, false
	}
	return Location{Topic: s[:slash], Partition: int32(p), Offset: o}, true
}

// OutcomeSplit is the outcome of a log entry recording that a delivery too
// large for a topic was split into smaller ones (each with its own id).
const OutcomeSplit = "split"

// SplitRecord builds the attempt-log entry saying d became parts because of
// reason. It is not an attempt: nothing was sent.
func SplitRecord(topic string, d *delivery.Delivery, parts []*delivery.Delivery, reason string) *kgo.Record {
	e := Entry{
		DeliveryID: d.ID, EndpointID: d.EndpointID, TenantID: d.TenantID, Attempt: d.Attempt, Items: d.Items,
		Status: d.LastStatus, Outcome: OutcomeSplit, Error: reason, At: time.Now().UTC(), SplitFrom: d.SplitFrom,
	}
	for _, p := range parts {
		e.SplitInto = append(e.SplitInto, p.ID)
	}
	return &kgo.Record{Topic: topic, Key: []byte(d.ID), Value: e.appendJSON(make([]byte, 0, 320+len(e.Error)))}
}

// AttemptRecord builds the attempt-log record of attempt a of d.
func AttemptRecord(topic string, d *delivery.Delivery, a delivery.Attempt, o delivery.Outcome, reason string) *kgo.Record {
	return attemptRecord(topic, d, a, o, reason, nil)
}

// attemptRecord is AttemptRecord naming where the outcome's record landed
// (nil: none did).
func attemptRecord(topic string, d *delivery.Delivery, a delivery.Attempt, o delivery.Outcome, reason string, next *Location) *kgo.Record {
	e := Entry{
		DeliveryID: d.ID, EndpointID: d.EndpointID, TenantID: d.TenantID, Attempt: d.Attempt, Items: d.Items,
		Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Outcome: o.String(), Error: reason,
		Response: string(a.Excerpt), At: time.Now().UTC(), SplitFrom: d.SplitFrom, Record: next,
	}
	if o == delivery.Retry && !d.Due.IsZero() {
		due := d.Due.UTC()
		e.NextDue = &due
	}
	return &kgo.Record{Topic: topic, Key: []byte(d.ID), Value: e.appendJSON(make([]byte, 0, 256+len(e.Response)+len(e.Error)))}
}

// appendJSON encodes e as encoding/json would, without reflection: one of
// these is written per attempt, so per event in single-event mode.
func (e *Entry) appendJSON(b []byte) []byte {
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
	if e.Record != nil {
		str(`,"record":{"topic":`, e.Record.Topic)
		num(`,"partition":`, int64(e.Record.Partition))
		num(`,"offset":`, e.Record.Offset)
		b = append(b, '}')
	}
	return append(b, '}')
}
