package registry

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
)

// index is one immutable version of the table. The follower builds the
// next from a copy; nothing reachable from a published index is written.
type index struct {
	entries  map[string]*entry                // by endpoint id, live ones only
	byTenant map[string][]*endpoints.Endpoint // published values, sorted by id
	names    map[nameKey]string               // (tenant, name) -> endpoint id
	gone     map[string]bool                  // ids a tombstone removed; an update for them loses
	rejected map[string]rejection             // keys whose newest record lost
	tenants  map[string]Tenant
	keys     map[string]keyRecord // by key id
	byHash   map[string]string    // token hash -> key id
	apps     map[string]*appEntry // by application id
	// used is each key's last use, from its apikeyuse record. It may name
	// a key no longer live whose use tombstone is still to come.
	used map[string]time.Time
	// expiry is the earliest RotatedUntil among published endpoints that
	// still carry older secrets (unix nanoseconds; 0: none).
	expiry int64
}

type nameKey struct{ tenant, name string }

// entry is a live endpoint: its published value (secrets opened, nil while
// the follower has not opened them yet), the stored form, its version and
// who manages it (the record's source).
type entry struct {
	ep      *endpoints.Endpoint
	meta    *endpoints.Endpoint // as stored: no secrets
	sealed  []byte
	version int64
	source  string
}

// rejection remembers a losing record that is its key's newest, so its
// writer (or a later Open) writes the correction.
type rejection struct {
	writer string
	at     time.Time
}

func newIndex() *index {
	return &index{
		entries: map[string]*entry{}, byTenant: map[string][]*endpoints.Endpoint{}, names: map[nameKey]string{},
		gone: map[string]bool{}, rejected: map[string]rejection{}, tenants: map[string]Tenant{},
		keys: map[string]keyRecord{}, byHash: map[string]string{}, apps: map[string]*appEntry{},
		used: map[string]time.Time{},
	}
}

// clone copies the maps (not the values, which are immutable).
func (x *index) clone() *index {
	return &index{
		entries: maps.Clone(x.entries), byTenant: maps.Clone(x.byTenant), names: maps.Clone(x.names),
		gone: maps.Clone(x.gone), rejected: maps.Clone(x.rejected), tenants: maps.Clone(x.tenants),
		keys: maps.Clone(x.keys), byHash: maps.Clone(x.byHash), apps: maps.Clone(x.apps), expiry: x.expiry,
		used: maps.Clone(x.used),
	}
}

// ForTenant returns the tenant's endpoints, disabled ones included. The
// slice must not be modified.
func (s *Store) ForTenant(tenant string) []*endpoints.Endpoint {
	return s.snapshot().byTenant[tenant]
}

// Get returns the endpoint with id, or nil.
func (s *Store) Get(id string) *endpoints.Endpoint {
	if e := s.snapshot().entries[id]; e != nil {
		return e.ep
	}
	return nil
}

// snapshot returns the current index, first dropping older secrets whose
// overlap has ended.
func (s *Store) snapshot() *index {
	x := s.cur.Load()
	if x.expiry != 0 && time.Now().UnixNano() >= x.expiry {
		return s.dropExpired()
	}
	return x
}

// dropExpired publishes a copy of the index whose endpoints carry no
// secret past its RotatedUntil.
func (s *Store) dropExpired() *index {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	x := s.cur.Load()
	now := time.Now()
	if x.expiry == 0 || now.UnixNano() < x.expiry {
		return x // another reader did it
	}
	next := x.clone()
	dirty := map[string]bool{}
	for id, e := range x.entries {
		if e.ep == nil {
			continue
		}
		if t := trimmed(e.ep, now); t != e.ep {
			cp := *e
			cp.ep = t
			next.entries[id] = &cp
			dirty[id] = true
		}
	}
	next.refresh(x, dirty)
	s.cur.Store(next)
	return next
}

// refresh rebuilds the tenant lists that hold the ids in dirty (as they
// were in prev and as they are now) and recomputes expiry.
func (x *index) refresh(prev *index, dirty map[string]bool) {
	tenants := map[string][]*endpoints.Endpoint{} // dirty tenant -> its changed live endpoints
	for id := range dirty {
		if e := prev.entries[id]; e != nil {
			tenants[e.meta.TenantID] = tenants[e.meta.TenantID]
		}
		if e := x.entries[id]; e != nil {
			tenants[e.meta.TenantID] = tenants[e.meta.TenantID]
			if e.ep != nil {
				tenants[e.meta.TenantID] = append(tenants[e.meta.TenantID], e.ep)
			}
		}
	}
	for t, changed := range tenants {
		list := changed
		for _, e := range prev.byTenant[t] {
			if !dirty[e.ID] {
				list = append(list, e)
			}
		}
		slices.SortFunc(list, func(a, b *endpoints.Endpoint) int { return strings.Compare(a.ID, b.ID) })
		if len(list) == 0 {
			delete(x.byTenant, t)
		} else {
			x.byTenant[t] = list
		}
	}
	x.expiry = 0
	for _, e := range x.entries {
		if e.ep == nil || len(e.ep.Secrets) < 2 || e.ep.RotatedUntil.IsZero() {
			continue
		}
		// One already past (its value came from before a reader's drop)
		// makes the next read drop it.
		if at := e.ep.RotatedUntil.UnixNano(); x.expiry == 0 || at < x.expiry {
			x.expiry = at
		}
	}
}
