// Package applications describes an application: one product on the event
// platform, with its own event catalog (the types its services publish,
// each with a JSON Schema, a description and a version) and its own
// dialect (how its webhooks look to receivers: headers, signature, body,
// batching, timeout, retries). Endpoints name their application; the
// registry keeps applications beside them and resolves each endpoint's
// dialect against its application's.
//
// The default application is the embedded catalog and the process
// defaults: events and endpoints that name no registered application
// belong to it, so a deployment without applications works as before.
package applications

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
)

// DefaultID names the default application: the embedded catalog and the
// process flags' dialect. It cannot be written.
const DefaultID = "default"

// Limits of an application.
const (
	MaxTypes         = 500
	MaxSchemaBytes   = 64 << 10
	maxLabel         = 200
	maxDescription   = 2000
	maxVersion       = 1_000_000
	maxCatalogBytes  = 900 << 10 // one registry record holds the whole application
	maxEventTypeName = 128
)

// ErrInvalid marks an application that fails validation; errors wrapping
// it are *FieldError.
var ErrInvalid = errors.New("invalid application")

// FieldError names the application field at fault (a JSON path such as
// eventTypes[2].schema or dialect.timeout) and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Application is one product's catalog and dialect.
type Application struct {
	// ID is what events carry in "application" and endpoints name:
	// lower-case letters, digits, "-" and "_", starting with a letter.
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Dialect is the default of every endpoint of the application.
	Dialect endpoints.Dialect `json:"dialect"`
	// EventTypes is the catalog, in the order given.
	EventTypes []EventType `json:"eventTypes"`
	CreatedAt  time.Time   `json:"createdAt,omitzero"`
	UpdatedAt  time.Time   `json:"updatedAt,omitzero"`
}

// EventType is one type of the catalog: the JSON Schema of its events'
// data object, and a version that rises with every incompatible change.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// Validate checks every field and compiles the catalog, naming the first
// bad field; the compiled catalog is returned for the caller to keep.
func (a *Application) Validate() (*catalog.Catalog, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !idPattern.MatchString(a.ID):
		return nil, bad("id", "want lower-case letters, digits, - and _, starting with a letter, at most 64, got %q", a.ID)
	case a.ID == DefaultID:
		return nil, bad("id", "%q is the built-in catalog and the process defaults; choose another id", DefaultID)
	case !printable(a.Name, maxLabel) || strings.TrimSpace(a.Name) == "":
		return nil, bad("name", "1 to %d bytes of printable UTF-8", maxLabel)
	case !printable(a.Description, maxDescription):
		return nil, bad("description", "at most %d bytes of printable UTF-8", maxDescription)
	case len(a.EventTypes) == 0:
		return nil, bad("eventTypes", "at least one event type is required")
	case len(a.EventTypes) > MaxTypes:
		return nil, bad("eventTypes", "at most %d event types, got %d", MaxTypes, len(a.EventTypes))
	}
	if err := a.Dialect.Validate(); err != nil {
		var de *endpoints.DialectError
		if errors.As(err, &de) {
			return nil, bad("dialect."+de.Field, "%s", de.Reason)
		}
		return nil, bad("dialect", "%v", err)
	}
	docs := make(map[string][]byte, len(a.EventTypes))
	index := make(map[string]int, len(a.EventTypes))
	total := 0
	for i, t := range a.EventTypes {
		field := fmt.Sprintf("eventTypes[%d]", i)
		switch {
		case !envelope.IsTypeName(t.Name) || len(t.Name) > maxEventTypeName:
			return nil, bad(field+".name", "want a type such as employee.created (lower-case words joined by dots, at most %d bytes), got %q", maxEventTypeName, t.Name)
		case docs[t.Name] != nil:
			return nil, bad(field+".name", "%q is listed twice", t.Name)
		case !printable(t.Description, maxDescription):
			return nil, bad(field+".description", "at most %d bytes of printable UTF-8", maxDescription)
		case t.Version < 1 || t.Version > maxVersion:
			return nil, bad(field+".version", "want 1 or more, got %d", t.Version)
		case len(t.Schema) == 0:
			return nil, bad(field+".schema", "a JSON Schema for the event's data object is required")
		case len(t.Schema) > MaxSchemaBytes:
			return nil, bad(field+".schema", "at most %d bytes, got %d", MaxSchemaBytes, len(t.Schema))
		}
		docs[t.Name], index[t.Name] = t.Schema, i
		total += len(t.Schema) + len(t.Description)
	}
	if total > maxCatalogBytes {
		return nil, bad("eventTypes", "the schemas and descriptions add up to %d bytes; at most %d fit one registry record", total, maxCatalogBytes)
	}
	cat, err := catalog.New(docs)
	var te *catalog.TypeError
	if errors.As(err, &te) {
		return nil, bad(fmt.Sprintf("eventTypes[%d].schema", index[te.Type]), "does not compile: %v", te.Err)
	}
	if err != nil {
		return nil, bad("eventTypes", "%v", err)
	}
	return cat, nil
}

// Type returns the event type named name.
func (a *Application) Type(name string) (EventType, bool) {
	for _, t := range a.EventTypes {
		if t.Name == name {
			return t, true
		}
	}
	return EventType{}, false
}

// Clone copies a deeply enough that changing the copy's slices leaves a
// untouched (schemas are never written in place).
func (a *Application) Clone() *Application {
	cp := *a
	cp.EventTypes = append([]EventType(nil), a.EventTypes...)
	cp.Dialect.RetrySchedule = append([]endpoints.Duration(nil), a.Dialect.RetrySchedule...)
	return &cp
}

func printable(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) < 0
}
