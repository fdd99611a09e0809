package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/endpoints"
)

// appPrefix keys an application's record: app/<id>.
const appPrefix = "app/"

// Application errors.
var (
	// ErrAppNotFound: no application has that id.
	ErrAppNotFound = errors.New("application not found")
	// ErrAppInUse: endpoints still name the application.
	ErrAppInUse = errors.New("application in use")
)

// appEntry is a live application with its compiled catalog and the
// dialect its endpoints resolve against (one pointer per version, so a
// published endpoint's AppDialect never changes under it).
type appEntry struct {
	app     *applications.Application
	cat     *catalog.Catalog
	dialect *endpoints.Dialect
}

// Applications returns the registered applications by id. The default
// application is not among them: it is the embedded catalog.
func (s *Store) Applications() []*applications.Application {
	x := s.snapshot()
	out := make([]*applications.Application, 0, len(x.apps))
	for _, e := range x.apps {
		out = append(out, e.app)
	}
	slices.SortFunc(out, func(a, b *applications.Application) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Application returns the application with id. The value must not be
// modified.
func (s *Store) Application(id string) (*applications.Application, bool) {
	e := s.snapshot().apps[id]
	if e == nil {
		return nil, false
	}
	return e.app, true
}

// Catalog returns the compiled catalog of the application id, or nil
// when no application has that id (its events are the default
// application's).
func (s *Store) Catalog(id string) *catalog.Catalog {
	if e := s.snapshot().apps[id]; e != nil {
		return e.cat
	}
	return nil
}

// PutApplication creates the application or replaces it whole. A
// replacement may not break a type endpoints subscribe to
// (applications.ErrBreaking); the new value is returned once this Store
// has applied it, with created telling which it was.
func (s *Store) PutApplication(ctx context.Context, in *applications.Application) (*applications.Application, bool, error) {
	a := in.Clone()
	if _, err := a.Validate(); err != nil {
		return nil, false, err
	}
	now := time.Now().UTC()
	a.CreatedAt, a.UpdatedAt = now, now
	x := s.snapshot()
	old := x.apps[a.ID]
	if old != nil {
		a.CreatedAt = old.app.CreatedAt
		if err := applications.CheckChange(old.app, a, func(typ string) bool { return subscribed(x, a.ID, typ) }); err != nil {
			return nil, false, err
		}
	}
	v, err := json.Marshal(a)
	if err != nil {
		return nil, false, fmt.Errorf("registry: encode application %q: %w", a.ID, err)
	}
	if _, err := s.write(ctx, appPrefix+a.ID, v); err != nil {
		return nil, false, err
	}
	if got, ok := s.Application(a.ID); ok {
		return got, old == nil, nil
	}
	return a, old == nil, nil
}

// DeleteApplication removes an application no endpoint names; one that
// endpoints name is ErrAppInUse, as removing it would change what they
// receive and how.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	x := s.snapshot()
	if x.apps[id] == nil {
		return fmt.Errorf("registry: delete application: %w: %q", ErrAppNotFound, id)
	}
	if n := usedBy(x, id); n > 0 {
		return fmt.Errorf("%w: %d endpoints name application %s; delete them first", ErrAppInUse, n, id)
	}
	_, err := s.write(ctx, appPrefix+id, nil)
	return err
}

// usedBy counts the live endpoints that name application id.
func usedBy(x *index, id string) int {
	n := 0
	for _, e := range x.entries {
		if e.meta.Application == id {
			n++
		}
	}
	return n
}

// subscribed reports whether an endpoint of application app, enabled or
// not (it may be enabled again), takes events of type typ.
func subscribed(x *index, app, typ string) bool {
	for _, e := range x.entries {
		if e.meta.Application == app && (&endpoints.Endpoint{EventTypes: e.meta.EventTypes}).WantsType(typ) {
			return true
		}
	}
	return false
}

// checkSubscriptions holds an endpoint of a registered application to its
// catalog; endpoints of no registered application answer to the default
// catalog, which the API checks.
func checkSubscriptions(x *index, e *endpoints.Endpoint) error {
	if a := x.apps[e.Application]; a != nil {
		return applications.CheckTypes(a.cat, a.app.ID, e.ID, e.EventTypes)
	}
	return nil
}

// applyApp applies an application record; its endpoints are republished
// with the new dialect.
func (b *builder) applyApp(id string, v []byte) outcome {
	x := b.next
	if v == nil {
		delete(x.apps, id)
	} else {
		var a applications.Application
		if err := json.Unmarshal(v, &a); err != nil || a.ID != id {
			return outcome{err: fmt.Errorf("registry: malformed application record %q: %v", id, err)}
		}
		cat, err := a.Validate()
		if err != nil {
			return outcome{err: fmt.Errorf("registry: application record %q: %w", id, err)}
		}
		d := a.Dialect
		x.apps[id] = &appEntry{app: &a, cat: cat, dialect: &d}
	}
	for eid, e := range x.entries {
		if e.meta.Application == id {
			b.dirty[eid] = true
		}
	}
	return outcome{}
}

// dialectOf is the dialect an endpoint of application app resolves
// against: nil for no registered application.
func (x *index) dialectOf(app string) *endpoints.Dialect {
	if e := x.apps[app]; e != nil {
		return e.dialect
	}
	return nil
}
