package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/signing"
)

// AppReader finds registered applications and their compiled catalogs
// (a *registry.Store).
type AppReader interface {
	Applications() []*applications.Application
	Application(id string) (*applications.Application, bool)
	Catalog(id string) *catalog.Catalog
}

// AppWriter creates, replaces and deletes applications (a *registry.Store).
type AppWriter interface {
	PutApplication(ctx context.Context, a *applications.Application) (*applications.Application, bool, error)
	DeleteApplication(ctx context.Context, id string) error
}

// appSummary is an application in a list: its catalog without schemas.
type appSummary struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Default     bool              `json:"default,omitempty"`
	Dialect     endpoints.Dialect `json:"dialect"`
	EventTypes  []typeSummary     `json:"eventTypes"`
	CreatedAt   *time.Time        `json:"createdAt,omitempty"`
	UpdatedAt   *time.Time        `json:"updatedAt,omitempty"`
}

type typeSummary struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     int    `json:"version"`
}

// defaultDialect is the default application's dialect, every field
// filled: what an endpoint gets for each field neither it nor its
// application sets. The form shows it.
func (s *Server) defaultDialect() endpoints.Dialect {
	d := s.cfg.Defaults
	d.HeaderPrefix = cmp.Or(d.HeaderPrefix, signing.DefaultPrefix)
	d.UserAgent = cmp.Or(d.UserAgent, delivery.DefaultUserAgent)
	d.Scheme = cmp.Or(d.Scheme, endpoints.SchemeHookline)
	d.SignatureFormat = cmp.Or(d.SignatureFormat, endpoints.SignatureSHA256)
	if d.Payload == nil {
		d.Payload = &payload.Spec{Shape: payload.ShapeFull}
	}
	d.MaxItems = cmp.Or(d.MaxItems, endpoints.DefaultMaxItems)
	d.MaxWait = cmp.Or(d.MaxWait, endpoints.Duration(endpoints.DefaultMaxWait))
	d.MaxBytes = cmp.Or(d.MaxBytes, endpoints.DefaultMaxBytes)
	d.Timeout = cmp.Or(d.Timeout, endpoints.Duration(endpoints.DefaultTimeout))
	d.RetryPolicy = cmp.Or(d.RetryPolicy, "any")
	return d
}

// filled is d with the default application's dialect under it.
func (s *Server) filled(d endpoints.Dialect) endpoints.Dialect {
	def := s.defaultDialect()
	e := endpoints.Endpoint{AppDialect: &def}
	e.HeaderPrefix, e.UserAgent, e.Scheme, e.SignatureFormat = d.HeaderPrefix, d.UserAgent, d.Scheme, d.SignatureFormat
	e.Payload, e.MaxItems, e.MaxWait, e.MaxBytes, e.Timeout = d.Payload, d.MaxItems, d.MaxWait, d.MaxBytes, d.Timeout
	e.RetrySchedule, e.MaxAge, e.RetryPolicy = d.RetrySchedule, d.MaxAge, d.RetryPolicy
	return e.Resolved()
}

func (s *Server) defaultApp() appSummary {
	out := appSummary{ID: applications.DefaultID, Name: "Default", Default: true, Dialect: s.defaultDialect(),
		Description: "The built-in catalog and this deployment's defaults: events and endpoints that name no registered application."}
	for _, t := range s.cfg.Catalog.Types() {
		out.EventTypes = append(out.EventTypes, typeSummary{Name: t, Description: schemaDescription(s.cfg.Catalog, t), Version: 1})
	}
	return out
}

func (s *Server) summaryOf(a *applications.Application) appSummary {
	out := appSummary{ID: a.ID, Name: a.Name, Description: a.Description, Dialect: s.filled(a.Dialect),
		EventTypes: []typeSummary{}}
	c, u := a.CreatedAt, a.UpdatedAt
	out.CreatedAt, out.UpdatedAt = &c, &u
	for _, t := range a.EventTypes {
		out.EventTypes = append(out.EventTypes, typeSummary{Name: t.Name, Description: t.Description, Version: t.Version})
	}
	return out
}

func schemaDescription(c *catalog.Catalog, typ string) string {
	doc, _ := c.Schema(typ)
	var meta struct {
		Description string `json:"description"`
	}
	_ = json.Unmarshal(doc, &meta)
	return meta.Description
}

// listApplications shows the default application and every registered
// one, with their dialects filled with the defaults and their types.
func (s *Server) listApplications(w http.ResponseWriter, _ *http.Request, _ string) error {
	out := struct {
		Data []appSummary `json:"data"`
	}{Data: []appSummary{s.defaultApp()}}
	if s.apps != nil {
		for _, a := range s.apps.Applications() {
			out.Data = append(out.Data, s.summaryOf(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getApplication shows one application, its schemas included.
func (s *Server) getApplication(w http.ResponseWriter, r *http.Request, _ string) error {
	id := r.PathValue("id")
	if id == applications.DefaultID {
		writeJSON(w, http.StatusOK, s.defaultApp())
		return nil
	}
	a, ok := s.application(id)
	if !ok {
		return notFound("application", id)
	}
	out := struct {
		appSummary
		EventTypes []applications.EventType `json:"eventTypes"`
	}{appSummary: s.summaryOf(a), EventTypes: a.EventTypes}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) application(id string) (*applications.Application, bool) {
	if s.apps == nil {
		return nil, false
	}
	return s.apps.Application(id)
}

// putApplication creates or replaces an application (operator).
func (s *Server) putApplication(w http.ResponseWriter, r *http.Request) error {
	if s.appWriter == nil {
		return unavailable("writing applications")
	}
	raw, err := readBody(w, r, maxAppBody)
	if err != nil {
		return err
	}
	if p := duplicateKey(raw); p != nil {
		return duplicateErr(p.pointer(), p)
	}
	a, err := applications.Decode(bytes.NewReader(raw))
	if err != nil {
		return badRequest("", "%v", err)
	}
	id := r.PathValue("id")
	if a.ID == "" {
		a.ID = id
	}
	if a.ID != id {
		return badRequest("id", "the body's id %q differs from the path's %q", a.ID, id)
	}
	return s.storeApp(w, r, a)
}

// putEventType adds one type to an application or replaces it (operator).
func (s *Server) putEventType(w http.ResponseWriter, r *http.Request) error {
	if s.appWriter == nil {
		return unavailable("writing applications")
	}
	a, ok := s.application(r.PathValue("id"))
	if !ok {
		return notFound("application", r.PathValue("id"))
	}
	var t applications.EventType
	raw, err := readBody(w, r, maxAppBody)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return badRequest("", "want {description, version, schema}: %v", err)
	}
	t.Name = cmp.Or(t.Name, r.PathValue("type"))
	if t.Name != r.PathValue("type") {
		return badRequest("name", "the body's name %q differs from the path's %q", t.Name, r.PathValue("type"))
	}
	next := a.Clone()
	replaced := false
	for i := range next.EventTypes {
		if next.EventTypes[i].Name == t.Name {
			next.EventTypes[i], replaced = t, true
		}
	}
	if !replaced {
		next.EventTypes = append(next.EventTypes, t)
	}
	return s.storeApp(w, r, next)
}

// maxAppBody bounds an application body: one registry record.
const maxAppBody = 1 << 20

func (s *Server) storeApp(w http.ResponseWriter, r *http.Request, a *applications.Application) error {
	got, created, err := s.appWriter.PutApplication(r.Context(), a)
	var fe *applications.FieldError
	var be *applications.BreakingError
	switch {
	case errors.As(err, &fe):
		return badRequest(fe.Field, "%s", fe.Reason)
	case errors.As(err, &be):
		return errorf(http.StatusConflict, be.Field, "%s", be.Reason)
	case err != nil:
		return s.internal(r, "store application", err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/applications/"+got.ID)
	}
	writeJSON(w, status, s.summaryOf(got))
	return nil
}

// deleteApplication removes an application no endpoint names (operator).
func (s *Server) deleteApplication(w http.ResponseWriter, r *http.Request) error {
	if s.appWriter == nil {
		return unavailable("writing applications")
	}
	id := r.PathValue("id")
	err := s.appWriter.DeleteApplication(r.Context(), id)
	switch {
	case errors.Is(err, registry.ErrAppNotFound):
		return notFound("application", id)
	case errors.Is(err, registry.ErrAppInUse):
		return errorf(http.StatusConflict, "id", "%v", err)
	case err != nil:
		return s.internal(r, "delete application", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// catalogOf is the catalog of application id: a registered one's, or
// the default catalog for "", "default" and ids no application has.
func (s *Server) catalogOf(id string) *catalog.Catalog {
	if s.apps != nil && id != "" {
		if c := s.apps.Catalog(id); c != nil {
			return c
		}
	}
	return s.cfg.Catalog
}

// dialectOf is the dialect endpoints of application id resolve against.
func (s *Server) dialectOf(id string) *endpoints.Dialect {
	if a, ok := s.application(id); ok {
		d := a.Dialect
		return &d
	}
	return nil
}
