// Package delivery is one signed POST of one body to one endpoint: the
// Delivery that keeps its id and exact body across every attempt, its Kafka
// record form for the retry tiers and dead letters, the HTTP sender, and the
// single place that decides what an attempt's outcome means.
package delivery

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Delivery is the unit sent and retried. Body never changes after sealing.
type Delivery struct {
	ID         string // 24 hex characters
	EndpointID string
	TenantID   string
	// EventType is the type of every event in the body, or "batch" when
	// they differ.
	EventType string
	// Items is how many envelopes the body holds; Batch tells whether the
	// body is a JSON array (a batch) or one envelope.
	Items int
	Batch bool
	Body  []byte
	// Shared, when set, owns Body's buffer: the sender hands net/http
	// readers of it, so the buffer is reused only once net/http is done.
	Shared *SharedBody
	// Attempt is the number of attempts made so far.
	Attempt      int
	FirstAttempt time.Time
	LastStatus   int
	Reason       string
	// Due is when the next attempt may start (retry tiers).
	Due time.Time
	// Tier is the delivery's position in the retry chain: the index of
	// the tier whose attempt is next (the record may sit in a shorter
	// tier's topic, see retry.Policy.Place). -1 when unknown (records
	// written before positions were carried): the topic's tier then.
	Tier int
	// SplitFrom is the id of the delivery this one was split from, when
	// that one was too large for a topic; empty otherwise.
	SplitFrom string
}

// NewID returns a random 12-byte id in hex.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Record headers of a delivery record.
const (
	hID           = "hl-delivery-id"
	hEndpoint     = "hl-endpoint"
	hTenant       = "hl-tenant"
	hType         = "hl-type"
	hItems        = "hl-items"
	hBatch        = "hl-batch"
	hAttempt      = "hl-attempt"
	hFirstAttempt = "hl-first-attempt"
	hLastStatus   = "hl-last-status"
	hReason       = "hl-reason"
	hDue          = "hl-due"
	hSplitFrom    = "hl-split-from"
	hTier         = "hl-tier"
	hReplay       = "hl-replay"
)

// ErrBadRecord marks a record that is not a delivery.
var ErrBadRecord = errors.New("not a delivery record")

// Record encodes d for topic: body as value, the rest in headers, keyed by
// endpoint so one endpoint's retries share a partition.
func (d *Delivery) Record(topic string) *kgo.Record {
	h := []kgo.RecordHeader{
		{Key: hID, Value: []byte(d.ID)},
		{Key: hEndpoint, Value: []byte(d.EndpointID)},
		{Key: hTenant, Value: []byte(d.TenantID)},
		{Key: hType, Value: []byte(d.EventType)},
		{Key: hItems, Value: strconv.AppendInt(nil, int64(d.Items), 10)},
		{Key: hBatch, Value: []byte(strconv.FormatBool(d.Batch))},
		{Key: hAttempt, Value: strconv.AppendInt(nil, int64(d.Attempt), 10)},
		{Key: hFirstAttempt, Value: []byte(d.FirstAttempt.UTC().Format(time.RFC3339Nano))},
		{Key: hLastStatus, Value: strconv.AppendInt(nil, int64(d.LastStatus), 10)},
		{Key: hReason, Value: []byte(d.Reason)},
		{Key: hDue, Value: []byte(d.Due.UTC().Format(time.RFC3339Nano))},
	}
	if d.SplitFrom != "" {
		h = append(h, kgo.RecordHeader{Key: hSplitFrom, Value: []byte(d.SplitFrom)})
	}
	if d.Tier >= 0 {
		h = append(h, kgo.RecordHeader{Key: hTier, Value: strconv.AppendInt(nil, int64(d.Tier), 10)})
	}
	return &kgo.Record{Topic: topic, Key: []byte(d.EndpointID), Value: d.Body, Headers: h}
}

// RecordInEpoch is d's record for topic in replay epoch epoch (0: a chain
// never replayed). A replay starts a new chain of the same delivery whose
// epoch is the replay's Unix time in milliseconds, carried from tier to
// tier on its records; a record of a higher epoch passes the delivery's
// marks of lower epochs, so a second replay of a chain still running
// supersedes the first instead of forking it.
func (d *Delivery) RecordInEpoch(topic string, epoch int64) *kgo.Record {
	rec := d.Record(topic)
	if epoch != 0 {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: hReplay, Value: strconv.AppendInt(nil, epoch, 10)})
	}
	return rec
}

// ReplayEpoch is the replay epoch of delivery record rec; 0 for a chain
// never replayed.
func ReplayEpoch(rec *kgo.Record) int64 {
	for _, h := range rec.Headers {
		if h.Key == hReplay {
			e, _ := strconv.ParseInt(string(h.Value), 10, 64)
			return e
		}
	}
	return 0
}

// FromRecord decodes a delivery record.
func FromRecord(r *kgo.Record) (*Delivery, error) {
	d := &Delivery{Body: r.Value, Tier: -1}
	var err error
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case hID:
			d.ID = v
		case hEndpoint:
			d.EndpointID = v
		case hTenant:
			d.TenantID = v
		case hType:
			d.EventType = v
		case hItems:
			d.Items, err = strconv.Atoi(v)
		case hBatch:
			d.Batch = v == "true"
		case hAttempt:
			d.Attempt, err = strconv.Atoi(v)
		case hFirstAttempt:
			d.FirstAttempt, err = time.Parse(time.RFC3339Nano, v)
		case hLastStatus:
			d.LastStatus, err = strconv.Atoi(v)
		case hReason:
			d.Reason = v
		case hDue:
			d.Due, err = time.Parse(time.RFC3339Nano, v)
		case hSplitFrom:
			d.SplitFrom = v
		case hTier:
			d.Tier, err = strconv.Atoi(v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: header %s=%q: %v", ErrBadRecord, h.Key, v, err)
		}
	}
	if len(d.ID) != 24 || d.EndpointID == "" {
		return nil, fmt.Errorf("%w: missing delivery id or endpoint", ErrBadRecord)
	}
	return d, nil
}
