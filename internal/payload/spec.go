// Package payload turns a record's envelope into the body an endpoint asked
// for: the envelope as it is (full), the ids only (thin), the older
// receivers' {event, occurred_at, data} (legacy) or the output of an endpoint's own
// text/template. Every shape but full decodes the record once; full never
// reaches this package, so the dispatcher keeps splicing record bytes.
package payload

import (
	"errors"
	"fmt"
	"text/template"
)

// Shapes an endpoint may ask for.
const (
	// ShapeFull is the envelope as published (default).
	ShapeFull = "full"
	// ShapeThin keeps type, eventId, tenantId, createdUtc and the ids the
	// catalog declares for the type, so receivers fetch current data.
	ShapeThin = "thin"
	// ShapeLegacy is {"event": type, "occurred_at": createdUtc, "data": object}.
	ShapeLegacy = "legacy"
	// ShapeTemplate runs the endpoint's text/template per event.
	ShapeTemplate = "template"
)

// MaxTemplateBytes caps a template's source: it is kept in the registry
// and compiled by every dispatcher and API process.
const MaxTemplateBytes = 16 << 10

// ErrInvalid marks a Spec that fails validation; errors wrapping it are
// *SpecError and name the field.
var ErrInvalid = errors.New("invalid payload")

// ErrShape marks an event the endpoint's shape could not be made from: a
// template that failed or wrote something other than one JSON value.
var ErrShape = errors.New("payload shape failed")

// Spec is an endpoint's choice of body. The zero value is the full shape.
type Spec struct {
	// Shape is one of ShapeFull (default when empty), ShapeThin,
	// ShapeLegacy or ShapeTemplate.
	Shape string `json:"shape,omitempty"`
	// Template is the text/template source for ShapeTemplate, and must be
	// empty otherwise. It must produce one JSON value per event.
	Template string `json:"template,omitempty"`
}

// SpecError names the bad field of a Spec ("shape" or "template").
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Reason }

func (e *SpecError) Unwrap() error { return ErrInvalid }

// IsFull reports whether s asks for the envelope as published; a nil Spec
// does.
func (s *Spec) IsFull() bool { return s == nil || s.Shape == "" || s.Shape == ShapeFull }

// Validate checks the shape and, for templates, parses the template, so a
// syntax error is reported when the endpoint is written rather than when
// its first event is dropped.
func (s *Spec) Validate() error {
	if s == nil {
		return nil
	}
	switch s.Shape {
	case "", ShapeFull, ShapeThin, ShapeLegacy:
		if s.Template != "" {
			return &SpecError{Field: "template", Reason: fmt.Sprintf("only the %q shape takes a template", ShapeTemplate)}
		}
		return nil
	case ShapeTemplate:
		_, err := parse(s.Template)
		return err
	}
	return &SpecError{Field: "shape", Reason: fmt.Sprintf("want %q, %q, %q or %q, got %q", ShapeFull, ShapeThin, ShapeLegacy, ShapeTemplate, s.Shape)}
}

func parse(src string) (*template.Template, error) {
	switch {
	case src == "":
		return nil, &SpecError{Field: "template", Reason: "required for the template shape"}
	case len(src) > MaxTemplateBytes:
		return nil, &SpecError{Field: "template", Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", len(src), MaxTemplateBytes)}
	}
	t, err := template.New("endpoint").Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, &SpecError{Field: "template", Reason: err.Error()}
	}
	return t, nil
}
