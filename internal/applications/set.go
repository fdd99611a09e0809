package applications

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/endpoints"
)

// Set is a fixed set of applications, compiled: an endpoints file's, for
// a dispatcher or retrier that reads the file alone.
type Set struct {
	apps map[string]*compiled
}

type compiled struct {
	app     *Application
	cat     *catalog.Catalog
	dialect *endpoints.Dialect
}

// NewSet validates and compiles apps; an id given twice is an error.
func NewSet(apps ...*Application) (*Set, error) {
	s := &Set{apps: make(map[string]*compiled, len(apps))}
	for i, a := range apps {
		cat, err := a.Validate()
		if err != nil {
			return nil, fmt.Errorf("applications[%d]: %w", i, err)
		}
		if s.apps[a.ID] != nil {
			return nil, fmt.Errorf("applications[%d]: %w: id %q is listed twice", i, ErrInvalid, a.ID)
		}
		d := a.Dialect
		s.apps[a.ID] = &compiled{app: a, cat: cat, dialect: &d}
	}
	return s, nil
}

// Catalog returns application id's catalog, nil for an id the set lacks.
func (s *Set) Catalog(id string) *catalog.Catalog {
	if c := s.apps[id]; c != nil {
		return c.cat
	}
	return nil
}

// Dialect returns application id's dialect, nil for an id the set lacks.
func (s *Set) Dialect(id string) *endpoints.Dialect {
	if c := s.apps[id]; c != nil {
		return c.dialect
	}
	return nil
}

// All returns the applications by id.
func (s *Set) All() []*Application {
	out := make([]*Application, 0, len(s.apps))
	for _, c := range s.apps {
		out = append(out, c.app)
	}
	slices.SortFunc(out, func(a, b *Application) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// CheckTypes holds an endpoint's event type patterns to the catalog of
// its application app: each exact type must be in it, each prefix must
// match one of its types; "*" takes them all. The error wraps
// endpoints.ErrInvalid and names eventTypes.
func CheckTypes(cat *catalog.Catalog, app, endpointID string, patterns []string) error {
	types := cat.Types()
	for _, p := range patterns {
		if p == "*" {
			continue
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if !slices.ContainsFunc(types, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
				return fmt.Errorf("%w %q: eventTypes: %q matches no type of application %s (its types: %s)", endpoints.ErrInvalid, endpointID, p, app, strings.Join(types, ", "))
			}
			continue
		}
		if !cat.Has(p) {
			return fmt.Errorf("%w %q: eventTypes: application %s has no type %q (its types: %s)", endpoints.ErrInvalid, endpointID, app, p, strings.Join(types, ", "))
		}
	}
	return nil
}

// LoadFile reads an endpoints file, {"applications": [...], "endpoints":
// [...]}: the applications compiled, and the endpoints as a Set resolving
// against their applications' dialects and held to their catalogs.
func LoadFile(path string) (*Set, *endpoints.Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoints file: %w", err)
	}
	var doc struct {
		Applications []*Application        `json:"applications"`
		Endpoints    []*endpoints.Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("endpoints file %s: %w", path, err)
	}
	apps, err := NewSet(doc.Applications...)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoints file %s: %w", path, err)
	}
	eps, err := endpoints.NewSet(doc.Endpoints...)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoints file %s: %w", path, err)
	}
	for _, e := range doc.Endpoints {
		if cat := apps.Catalog(e.Application); cat != nil {
			if err := CheckTypes(cat, e.Application, e.ID, e.EventTypes); err != nil {
				return nil, nil, fmt.Errorf("endpoints file %s: %w", path, err)
			}
		}
	}
	eps.Attach(apps.Dialect)
	return apps, eps, nil
}
