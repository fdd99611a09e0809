package endpoints

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Set is an in-memory endpoint set indexed by tenant, loaded from a JSON
// file ({"endpoints": [...]}) or built in code. Safe for concurrent use.
type Set struct {
	mu       sync.RWMutex
	byTenant map[string][]*Endpoint
	byID     map[string]*Endpoint
}

// NewSet validates eps and indexes them. Duplicate ids are an error.
func NewSet(eps ...*Endpoint) (*Set, error) {
	s := &Set{byTenant: map[string][]*Endpoint{}, byID: map[string]*Endpoint{}}
	for _, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if _, dup := s.byID[e.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate id %q", ErrInvalid, e.ID)
		}
		s.byID[e.ID] = e
		s.byTenant[e.TenantID] = append(s.byTenant[e.TenantID], e)
	}
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
func (s *Set) ForTenant(tenant string) []*Endpoint {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byTenant[tenant]
}

// All returns every endpoint, in no particular order.
func (s *Set) All() []*Endpoint {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Endpoint, 0, len(s.byID))
	for _, e := range s.byID {
		out = append(out, e)
	}
	return out
}

// Get returns the endpoint with id, or nil.
func (s *Set) Get(id string) *Endpoint {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

// Disable marks an endpoint disabled (after a 410 Gone). Endpoints are
// replaced, not mutated, so readers holding the old value stay consistent.
func (s *Set) Disable(id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("endpoint %q not found", id)
	}
	cp := *old
	cp.Disabled = true
	s.byID[id] = &cp
	list := s.byTenant[old.TenantID]
	next := make([]*Endpoint, len(list))
	for i, e := range list {
		next[i] = e
		if e.ID == id {
			next[i] = &cp
		}
	}
	s.byTenant[old.TenantID] = next
	return nil
}
