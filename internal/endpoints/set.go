package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// Set is an in-memory endpoint set indexed by tenant, loaded from a JSON
// file ({"endpoints": [...]}) or built in code. Safe for concurrent use.
// Readers load one immutable snapshot without locking (the dispatcher looks
// up every record's tenant); writers, which are rare, copy and swap it.
type Set struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[setIndex]
}

// setIndex is one immutable version of the set.
type setIndex struct {
	byTenant map[string][]*Endpoint
	byID     map[string]*Endpoint
}

// NewSet validates eps and indexes them. Duplicate ids are an error.
func NewSet(eps ...*Endpoint) (*Set, error) {
	idx := &setIndex{byTenant: map[string][]*Endpoint{}, byID: map[string]*Endpoint{}}
	for _, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if _, dup := idx.byID[e.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate id %q", ErrInvalid, e.ID)
		}
		idx.byID[e.ID] = e
		idx.byTenant[e.TenantID] = append(idx.byTenant[e.TenantID], e)
	}
	s := &Set{}
	s.cur.Store(idx)
	return s, nil
}

// LoadFile reads {"endpoints": [...]} from path.
func LoadFile(path string) (*Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("endpoints file: %w", err)
	}
	var doc struct {
		Endpoints []*Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("endpoints file %s: %w", path, err)
	}
	s, err := NewSet(doc.Endpoints...)
	if err != nil {
		return nil, fmt.Errorf("endpoints file %s: %w", path, err)
	}
	return s, nil
}

// ForTenant returns the tenant's endpoints. The slice must not be modified.
func (s *Set) ForTenant(tenant string) []*Endpoint { return s.cur.Load().byTenant[tenant] }

// All returns every endpoint, in no particular order.
func (s *Set) All() []*Endpoint {
	idx := s.cur.Load()
	out := make([]*Endpoint, 0, len(idx.byID))
	for _, e := range idx.byID {
		out = append(out, e)
	}
	return out
}

// Get returns the endpoint with id, or nil.
func (s *Set) Get(id string) *Endpoint { return s.cur.Load().byID[id] }

// Disable marks an endpoint disabled (after a 410 Gone). Endpoints are
// replaced, not mutated, so readers holding the old value stay consistent.
func (s *Set) Disable(_ context.Context, id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	prev, ok := old.byID[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	cp := *prev
	cp.Disabled = true
	next := &setIndex{byTenant: maps.Clone(old.byTenant), byID: maps.Clone(old.byID)}
	next.byID[id] = &cp
	list := slices.Clone(old.byTenant[prev.TenantID])
	for i, e := range list {
		if e.ID == id {
			list[i] = &cp
		}
	}
	next.byTenant[prev.TenantID] = list
	s.cur.Store(next)
	return nil
}

// Attach resolves the set's endpoints against their applications'
// dialects: dialect(app) is the dialect of application app, nil for none.
// Endpoints are replaced, not mutated, as Disable does.
func (s *Set) Attach(dialect func(app string) *Dialect) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := &setIndex{byTenant: make(map[string][]*Endpoint, len(old.byTenant)), byID: make(map[string]*Endpoint, len(old.byID))}
	for t, list := range old.byTenant {
		cp := make([]*Endpoint, len(list))
		for i, e := range list {
			cp[i] = e.WithDialect(dialect(e.Application))
			next.byID[e.ID] = cp[i]
		}
		next.byTenant[t] = cp
	}
	s.cur.Store(next)
}
