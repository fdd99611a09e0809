package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/producer"
)

// Publisher validates and publishes one event (producer.Producer).
type Publisher interface {
	Publish(ctx context.Context, ev producer.Event) (producer.Published, error)
}

type eventType struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
}

// eventTypes lists one application's catalog (?application=; the default
// application's without it).
func (s *Server) eventTypes(w http.ResponseWriter, r *http.Request, _ string) error {
	out := struct {
		Application string      `json:"application"`
		Data        []eventType `json:"data"`
	}{Application: applications.DefaultID, Data: []eventType{}}
	id := r.URL.Query().Get("application")
	if id != "" && id != applications.DefaultID {
		a, ok := s.application(id)
		if !ok {
			return notFound("application", id)
		}
		out.Application = a.ID
		for _, t := range a.EventTypes {
			out.Data = append(out.Data, eventType{Type: t.Name, Description: t.Description, Version: t.Version, Schema: t.Schema})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	for _, t := range s.cfg.Catalog.Types() {
		doc, _ := s.cfg.Catalog.Schema(t)
		out.Data = append(out.Data, eventType{Type: t, Description: schemaDescription(s.cfg.Catalog, t), Version: 1, Schema: doc})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type published struct {
	EventID   string `json:"eventId"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ingest publishes one envelope for the key's tenant through the producer,
// whose checks decide; its typed errors become 4xx naming the field by
// JSON pointer. The body is held to the rules management bodies are: no
// key twice in one object (data included), and the envelope's own
// members spelled exactly, which producer.ParseEvent alone would not
// insist on (encoding/json matches struct fields in any case).
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Publisher == nil {
		return unavailable("HTTP ingest")
	}
	raw, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	if p := duplicateKey(raw); p != nil {
		return duplicateErr(p.pointer(), p)
	}
	if err := envelopeKeys(raw); err != nil {
		return err
	}
	ev, err := producer.ParseEvent(raw)
	if err != nil {
		return badRequest("", "%v", err)
	}
	switch ev.TenantID {
	case "":
		ev.TenantID = tenant
	case tenant:
	default:
		return badRequest("/tenantId", "tenantId names another tenant; leave it out or give your own (the API key decides)")
	}
	pub, err := s.cfg.Publisher.Publish(r.Context(), ev)
	if err != nil {
		return s.publishErr(r, ev.Type, err)
	}
	writeJSON(w, http.StatusAccepted, published{EventID: pub.EventID, Partition: pub.Partition, Offset: pub.Offset})
	return nil
}

// envelopeFields are the members of an envelope as producer.Event names
// them in JSON.
var envelopeFields = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[producer.Event]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// envelopeKeys refuses a top-level key of the event body raw that is not
// exactly an envelope member's name, pointing a case variant at the name
// it resembles. A body that is not an object passes: ParseEvent says what
// is wrong with it.
func envelopeKeys(raw []byte) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if envelopeFields[key] {
			continue
		}
		field := jsonPath{{key: key, index: -1}}.pointer()
		for name := range envelopeFields {
			if strings.EqualFold(name, key) {
				return badRequest(field, "unknown field %q: field names match exactly, case included; did you mean %q?", key, name)
			}
		}
		return badRequest(field, "unknown field %q (an envelope has %s)", key, strings.Join(slices.Sorted(maps.Keys(envelopeFields)), ", "))
	}
	return nil
}

func (s *Server) publishErr(r *http.Request, typ string, err error) error {
	var se *producer.SchemaError
	var tl *producer.TooLargeError
	switch {
	case errors.As(err, &tl):
		return errorf(http.StatusRequestEntityTooLarge, "/data", "%v", err)
	case errors.As(err, &se):
		return badRequest(se.Pointer, "%v", err)
	case errors.Is(err, producer.ErrUnknownType):
		return badRequest("/type", "%v", err)
	case errors.Is(err, producer.ErrMissingObjectID):
		return badRequest("/data/"+envelope.ObjectName(typ)+"/id", "%v", err)
	case errors.Is(err, producer.ErrMissingTenant):
		return badRequest("/tenantId", "%v", err)
	case errors.Is(err, producer.ErrSchema):
		return badRequest("", "%v", err)
	}
	return s.internal(r, "publish event", err)
}
