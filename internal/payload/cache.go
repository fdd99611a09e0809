package payload

import "sync"

// maxCached bounds a Cache: endpoints changed in the registry leave their
// old specs behind, and a full cache starts over rather than grow.
const maxCached = 4096

// Cache keeps a compiled Shaper per distinct Spec, so templates are parsed
// once per process rather than once per delivery. It is safe for
// concurrent use; the zero value is not: use NewCache.
type Cache struct {
	refs RefSource
	mu   sync.Mutex
	m    map[Spec]*Shaper
}

// NewCache returns a Cache whose thin bodies keep the ids refs declares.
func NewCache(refs RefSource) *Cache { return &Cache{refs: refs, m: map[Spec]*Shaper{}} }

// Get returns the Shaper of s, compiling it on first use. A nil s is the
// full shape.
func (c *Cache) Get(s *Spec) (*Shaper, error) {
	var key Spec
	if s != nil {
		key = *s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh, ok := c.m[key]; ok {
		return sh, nil
	}
	sh, err := New(&key, c.refs)
	if err != nil {
		return nil, err
	}
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = sh
	return sh, nil
}
