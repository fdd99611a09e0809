package producer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Event is the envelope a domain service publishes. Type, TenantID and Data
// are required; EventID and CreatedUTC are filled when empty. Set Version
// (or the object's updatedUtc, Config.VersionField) to the write's version
// so the filled EventID names the write (Config.VersionField,
// Config.RandomEventIDs and README.md give the rules).
type Event = envelope.Envelope

// Bad-input errors. Every error Publish returns for bad input matches one of
// these with errors.Is; a schema violation is also a *SchemaError.
var (
	// ErrUnknownType: the type has no schema in the catalog.
	ErrUnknownType = catalog.ErrUnknownType
	// ErrSchema: the event violates the envelope or its type's schema.
	ErrSchema = errors.New("schema violation")
	// ErrTooLarge: the encoded envelope exceeds Config.MaxEventBytes.
	ErrTooLarge = errors.New("event too large")
	// ErrMissingTenant: the envelope has no tenantId.
	ErrMissingTenant = errors.New("missing tenantId")
	// ErrMissingObjectID: data.<object>.id is absent, so no record key.
	ErrMissingObjectID = errors.New("missing object id")
)

// SchemaError names the offending field by JSON pointer (Pointer) and says
// what was expected (Reason). It matches ErrSchema.
type SchemaError = catalog.SchemaError

type schemaErr struct{ *catalog.SchemaError }

func (e schemaErr) Unwrap() []error { return []error{ErrSchema, e.SchemaError} }

// TooLargeError reports the encoded size and the limit. It matches ErrTooLarge.
type TooLargeError struct {
	EventID string
	Size    int
	Max     int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("event %s is %d bytes encoded, over the %d-byte limit (raise MaxEventBytes or send less data)", e.EventID, e.Size, e.Max)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// scratchPool holds encoding buffers, so an event costs one exact-size
// allocation for its value instead of a series of growing ones.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// record turns ev into a Kafka record: fill, strip, validate, encode.
func (p *Producer) record(ev *Event) (*kgo.Record, string, error) {
	if ev.TenantID == "" {
		return nil, "", fmt.Errorf("%w: every event needs the tenant it belongs to", ErrMissingTenant)
	}
	cat := p.catalogOf(ev.Application)
	if !cat.Has(ev.Type) {
		if cat != p.cat {
			return nil, "", fmt.Errorf("%w %q in application %s (known: %v)", ErrUnknownType, ev.Type, ev.Application, cat.Types())
		}
		return nil, "", fmt.Errorf("%w %q (known: %v)", ErrUnknownType, ev.Type, cat.Types())
	}
	if ev.CreatedUTC == "" {
		ev.CreatedUTC = envelope.NowUTC(p.now())
	}
	ev.Data = envelope.StripTenant(ev.Data)
	if ev.EventID == "" {
		ev.EventID = p.eventID(ev)
	}
	if err := p.validate(cat, ev); err != nil {
		return nil, ev.EventID, err
	}
	meta := envelope.MetaOf(ev)
	if meta.ObjectID == "" {
		return nil, ev.EventID, fmt.Errorf("%w: data.%s.id is required for the record key", ErrMissingObjectID, envelope.ObjectName(ev.Type))
	}
	scratch := scratchPool.Get().(*[]byte)
	enc, err := envelope.AppendJSON((*scratch)[:0], ev)
	if err != nil {
		scratchPool.Put(scratch)
		return nil, ev.EventID, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	// The record keeps an exact-size copy; the scratch buffer, grown to the
	// largest events seen, goes back for the next event.
	val := slices.Clone(enc)
	if cap(enc) <= 1<<20 {
		*scratch = enc
		scratchPool.Put(scratch)
	}
	if len(val) > p.maxBytes {
		return nil, ev.EventID, &TooLargeError{EventID: ev.EventID, Size: len(val), Max: p.maxBytes}
	}
	return &kgo.Record{Topic: p.topic, Key: recordKey(meta.TenantID, meta.ObjectID), Value: val, Headers: meta.Headers()}, ev.EventID, nil
}

// catalogOf is the catalog events of application app are held to: its
// own when it is registered, the producer's otherwise.
func (p *Producer) catalogOf(app string) *catalog.Catalog {
	if p.apps != nil && app != "" {
		if c := p.apps.Catalog(app); c != nil {
			return c
		}
	}
	return p.cat
}

func (p *Producer) validate(cat *catalog.Catalog, ev *Event) error {
	err := catalog.CheckEnvelope(ev.Type, ev.EventID, ev.TenantID, ev.CreatedUTC, ev.Origin)
	if err == nil {
		var data any = ev.Data
		if ev.Data == nil {
			data = nil // reported as the schema would, by pointer
		}
		err = cat.ValidateData(ev.Type, data)
	}
	var se *catalog.SchemaError
	if errors.As(err, &se) {
		return schemaErr{se}
	}
	return err
}

// ParseEvent decodes a JSON envelope for PublishRaw-style callers (the CLI,
// stdin). Numbers keep their exact text.
func ParseEvent(raw []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON envelope: %v", ErrSchema, err)
	}
	return ev, nil
}

func envelopeObject(typ string) string { return envelope.ObjectName(typ) }

// recordKey is envelope.Meta.Key in one allocation.
func recordKey(tenant, object string) []byte {
	k := make([]byte, 0, len(tenant)+1+len(object))
	return append(append(append(k, tenant...), '/'), object...)
}
