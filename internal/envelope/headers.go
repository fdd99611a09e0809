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

// Record header names. The producer sets them, and records from other
// clients may lack them. The body decides routing: where these are present
// they must agree with it, so a record cannot claim one tenant in a header
// and carry another's event. hl-changed is the exception, trusted as it is:
// it only decides whether an endpoint that ignores some fields wants an
// update of a tenant the body already named, and it spares the dispatcher
// decoding data for those endpoints.
const (
	HeaderType    = "hl-type"
	HeaderTenant  = "hl-tenant"
	HeaderOrigin  = "hl-origin"
	HeaderApp     = "hl-application"
	HeaderChanged = "hl-changed" // comma-separated, update events only
)

// ErrMalformed marks a record that is not a usable envelope.
var ErrMalformed = errors.New("malformed event record")

// Meta is what routing needs from an event. Read from a record, its strings
// share the record's memory (no copies on the dispatcher's hot path), so a
// Meta must not outlive its record.
type Meta struct {
	Type     string
	TenantID string
	EventID  string
	ObjectID string
	Origin   string
	// Application is the source application that wrote the event, for
	// endpoints that receive one application's events only.
	Application string
	// Changed is non-nil on update events whose changed fields are known.
	// From a record it is worked out on first use; call ChangedFields.
	Changed    []string
	changedRaw []byte
	hasChanged bool
	// data is the record's data object, kept until ChangedFields has used
	// it when no hl-changed header came with the record.
	data []byte
}

// ChangedFields returns the changed fields of an update event (nil when
// unknown). On first use it splits the hl-changed header or, without one,
// compares data.<object> with data.before; only endpoints that ignore
// fields ask, so other records never pay for decoding data.
func (m *Meta) ChangedFields() []string {
	if m.Changed == nil {
		switch {
		case m.hasChanged:
			m.Changed = splitChanged(m.changedRaw)
		case m.data != nil:
			if IsUpdate(m.Type) {
				m.Changed = changedFromData(m.Type, m.data)
			}
			m.data = nil
		}
	}
	return m.Changed
}

// view is a string over b without copying; b must not change afterwards
// (record headers and values never do).
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
	n := len(m.Type) + len(m.TenantID) + len(m.Origin) + len(m.Application)
	for _, c := range m.Changed {
		n += len(c) + 1
	}
	buf := make([]byte, 0, n)
	h := make([]kgo.RecordHeader, 0, 5)
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
	if m.Application != "" {
		add(HeaderApp, m.Application)
	}
	if m.Changed != nil {
		add(HeaderChanged, m.Changed...)
	}
	return h
}

// MetaOf computes the routing fields of an envelope.
func MetaOf(e *Envelope) Meta {
	m := Meta{Type: e.Type, TenantID: e.TenantID, EventID: e.EventID, Origin: e.Origin, Application: e.Application, ObjectID: ObjectID(e.Type, e.Data)}
	if IsUpdate(e.Type) {
		m.Changed = ChangedFields(e.Type, e.Data)
	}
	return m
}

// FromRecord reads an event's routing fields from the record's value, which
// must be exactly one JSON envelope (see scan), and checks that the routing
// headers present agree with it. Errors wrap ErrMalformed and say what is
// wrong.
func FromRecord(headers []kgo.RecordHeader, value []byte) (Meta, error) {
	m, err := scan(value)
	if err != nil {
		return Meta{}, err
	}
	for _, h := range headers {
		var field, body string
		switch h.Key {
		case HeaderType:
			field, body = "type", m.Type
		case HeaderTenant:
			field, body = "tenantId", m.TenantID
		case HeaderOrigin:
			field, body = "origin", m.Origin
		case HeaderApp:
			field, body = "application", m.Application
		case HeaderChanged:
			m.changedRaw, m.hasChanged = h.Value, true
			continue
		default:
			continue
		}
		if string(h.Value) != body {
			return Meta{}, malformed("header %s %s disagrees with body %s %s", h.Key, quote(string(h.Value)), field, quote(body))
		}
	}
	return m, nil
}

func splitChanged(v []byte) []string {
	if len(v) == 0 {
		return []string{}
	}
	return strings.Split(string(v), ",")
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
