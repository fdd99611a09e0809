package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

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
	Schema      json.RawMessage `json:"schema"`
}

func (s *Server) eventTypes(w http.ResponseWriter, _ *http.Request, _ string) error {
	out := struct {
		Data []eventType `json:"data"`
	}{Data: []eventType{}}
	for _, t := range s.cfg.Catalog.Types() {
		doc, _ := s.cfg.Catalog.Schema(t)
		var meta struct {
			Description string `json:"description"`
		}
		_ = json.Unmarshal(doc, &meta)
		out.Data = append(out.Data, eventType{Type: t, Description: meta.Description, Schema: doc})
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
// JSON pointer.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Publisher == nil {
		return unavailable("HTTP ingest")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "", "request body is over the %d-byte limit", tooBig.Limit)
	}
	if err != nil {
		return badRequest("", "reading the request body: %v", err)
	}
	ev, err := producer.ParseEvent(raw)
	if err != nil {
		return badRequest(unknownField(err), "%v", err)
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

// unknownField pulls the name out of encoding/json's unknown-field error.
func unknownField(err error) string {
	const marker = `unknown field "`
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(msg[i+len(marker):], `"`)
	return "/" + name
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
