// Package envelope defines hookline's event envelope, the Kafka record
// headers that carry its routing fields, and the rules shared by producer and
// dispatcher: which inner object an event is about, tenant stripping and the
// changed-fields computation for update events.
package envelope

import (
	"maps"
	"reflect"
	"sort"
	"strings"
	"time"
)

// TimeLayout is the envelope's createdUtc format: ISO 8601, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Envelope is one change event as receivers get it (schemas/):
//
//	{"type","eventId","tenantId","createdUtc","origin","data":{"<object>":{...},"before":{...}}}
type Envelope struct {
	Type       string `json:"type"`
	EventID    string `json:"eventId"`
	TenantID   string `json:"tenantId"`
	CreatedUTC string `json:"createdUtc"`
	// Origin names the writer of the change (for example "api" or
	// "revit-addin"); endpoints can ignore origins to stop webhook loops.
	Origin string `json:"origin,omitempty"`
	// Application names the source application of the event (for example
	// "tasks" or "budgets"); an endpoint may receive one application's
	// events only.
	Application string         `json:"application,omitempty"`
	Data        map[string]any `json:"data"`
	// Version names the write the event reports (a version number or the
	// object's updatedUtc) for the producer to derive a stable eventId
	// from when EventID is empty. It is not part of the envelope sent.
	Version string `json:"-"`
}

// BeforeKey is the data field holding the previous object on update events.
const BeforeKey = "before"

// tenantFields are stripped from inner objects: the tenant is on the envelope.
var tenantFields = [...]string{"tenantId", "tenant_id"}

// ObjectName is the data field that holds the event's object: the type's
// first segment ("task" for task.updated).
func ObjectName(eventType string) string {
	if i := strings.IndexByte(eventType, '.'); i > 0 {
		return eventType[:i]
	}
	return eventType
}

// IsUpdate reports whether the type is an update event, which carries
// data.before and changed fields.
func IsUpdate(eventType string) bool { return strings.HasSuffix(eventType, ".updated") }

// ObjectID returns data.<object>.id as a string, or "".
func ObjectID(eventType string, data map[string]any) string {
	obj, _ := data[ObjectName(eventType)].(map[string]any)
	switch id := obj["id"].(type) {
	case string:
		return id
	case nil:
		return ""
	default:
		return stringify(id)
	}
}

// StripTenant returns data with tenant fields removed from every inner object
// (data.<object>, data.before, ...). It copies what it changes and never
// modifies the caller's maps.
func StripTenant(data map[string]any) map[string]any {
	var out map[string]any
	for k, v := range data {
		obj, ok := v.(map[string]any)
		if !ok || !hasTenantField(obj) {
			continue
		}
		if out == nil {
			out = maps.Clone(data)
		}
		cp := maps.Clone(obj)
		for _, f := range tenantFields {
			delete(cp, f)
		}
		out[k] = cp
	}
	if out == nil {
		return data
	}
	return out
}

func hasTenantField(obj map[string]any) bool {
	for _, f := range tenantFields {
		if _, ok := obj[f]; ok {
			return true
		}
	}
	return false
}

// ChangedFields lists, sorted, the top-level fields of data.<object> whose
// values differ from data.before, including fields added or removed. It
// returns nil when either side is missing.
func ChangedFields(eventType string, data map[string]any) []string {
	after, ok1 := data[ObjectName(eventType)].(map[string]any)
	before, ok2 := data[BeforeKey].(map[string]any)
	if !ok1 || !ok2 {
		return nil
	}
	changed := []string{}
	for k, v := range after {
		if old, ok := before[k]; !ok || !equalJSON(old, v) {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// equalJSON compares two decoded JSON values; numbers compare by value
// whatever Go type carries them.
func equalJSON(a, b any) bool {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		return ok && na == nb
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !equalJSON(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !equalJSON(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// NowUTC formats t as a createdUtc value (TimeLayout). It writes the digits
// itself: the producer stamps most events, and time.Format cost several
// times more.
func NowUTC(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return t.Format(TimeLayout)
	}
	var b [24]byte
	put := func(at, v, width int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = 'T'
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, t.Nanosecond()/1e6, 3)
	b[23] = 'Z'
	return string(b[:])
}
