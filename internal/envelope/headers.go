package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record header names. The producer sets them so the dispatcher routes
// without parsing JSON; records from other clients may lack them. They are
// only what routing reads: every header costs the dispatcher an allocation
// per record to decode, so the event id and object id stay in the value
// (and the object id in the key).
const (
	HeaderType    = "hl-type"
	HeaderTenant  = "hl-tenant"
	HeaderOrigin  = "hl-origin"
	HeaderChanged = "hl-changed" // comma-separated, update events only
)

// ErrMalformed marks a record that is not a usable envelope.
var ErrMalformed = errors.New("malformed event record")

// Meta is what routing needs from an event. Read from headers, its strings
// share the record's memory (no copies on the dispatcher's hot path), so a
// Meta must not outlive its record.
type Meta struct {
	Type     string
	TenantID string
	EventID  string
	ObjectID string
	Origin   string
	// Changed is non-nil on update events: the fields that changed. From
	// headers it is split on first use; call ChangedFields.
	Changed    []string
	changedRaw []byte
	hasChanged bool
}

// ChangedFields returns the changed fields of an update event (nil when
// unknown), splitting the header on first use.
func (m *Meta) ChangedFields() []string {
	if m.Changed == nil && m.hasChanged {
		m.Changed = splitChanged(m.changedRaw)
	}
	return m.Changed
}

// view is a string over b without copying; b must not change afterwards
// (record headers never do).
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Key is the record key: tenantId/objectId, so one object's events stay in
// order on one partition.
func (m Meta) Key() string { return m.TenantID + "/" + m.ObjectID }

// Headers renders m as record headers. All values share one allocation:
// the producer calls this for every event.
func (m Meta) Headers() []kgo.RecordHeader {
	n := len(m.Type) + len(m.TenantID) + len(m.Origin)
	for _, c := range m.Changed {
		n += len(c) + 1
	}
	buf := make([]byte, 0, n)
	h := make([]kgo.RecordHeader, 0, 4)
	add := func(key string, parts ...string) {
		start := len(buf)
		for i, p := range parts {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, p...)
		}
		h = append(h, kgo.RecordHeader{Key: key, Value: buf[start:len(buf):len(buf)]})
	}
	add(HeaderType, m.Type)
	add(HeaderTenant, m.TenantID)
	if m.Origin != "" {
		add(HeaderOrigin, m.Origin)
	}
	if m.Changed != nil {
		add(HeaderChanged, m.Changed...)
	}
	return h
}

// MetaOf computes the routing fields of an envelope.
func MetaOf(e *Envelope) Meta {
	m := Meta{Type: e.Type, TenantID: e.TenantID, EventID: e.EventID, Origin: e.Origin, ObjectID: ObjectID(e.Type, e.Data)}
	if IsUpdate(e.Type) {
		m.Changed = ChangedFields(e.Type, e.Data)
	}
	return m
}

// FromRecord reads routing fields from the record's headers when the
// producer set them (type and tenant present), and otherwise falls back to
// parsing the envelope in value. Errors wrap ErrMalformed.
func FromRecord(headers []kgo.RecordHeader, value []byte) (Meta, error) {
	var m Meta
	for _, h := range headers {
		switch h.Key {
		case HeaderType:
			m.Type = view(h.Value)
		case HeaderTenant:
			m.TenantID = view(h.Value)
		case HeaderOrigin:
			m.Origin = view(h.Value)
		case HeaderChanged:
			m.changedRaw, m.hasChanged = h.Value, true
		}
	}
	if m.Type != "" && m.TenantID != "" {
		return m, nil
	}
	return parseMeta(value)
}

func splitChanged(v []byte) []string {
	if len(v) == 0 {
		return []string{}
	}
	return strings.Split(string(v), ",")
}

// parseMeta decodes the envelope for records written without headers.
func parseMeta(value []byte) (Meta, error) {
	var e Envelope
	dec := json.NewDecoder(strings.NewReader(string(value)))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return Meta{}, fmt.Errorf("%w: not a JSON envelope: %v", ErrMalformed, err)
	}
	switch {
	case e.Type == "":
		return Meta{}, fmt.Errorf("%w: missing type", ErrMalformed)
	case e.TenantID == "":
		return Meta{}, fmt.Errorf("%w: missing tenantId", ErrMalformed)
	case e.EventID == "":
		return Meta{}, fmt.Errorf("%w: missing eventId", ErrMalformed)
	case e.Data == nil:
		return Meta{}, fmt.Errorf("%w: missing data", ErrMalformed)
	}
	return MetaOf(&e), nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	}
	return 0, false
}

func stringify(v any) string {
	if f, ok := number(v); ok {
		if n, ok := v.(json.Number); ok {
			return n.String()
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
