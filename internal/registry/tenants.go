package registry

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
)

// Tenant is a customer account.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Key is an API key's public part; its token is shown once by CreateKey.
type Key struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// tokenPrefix marks hookline API tokens, so that a leaked one is easy to
// recognise in logs and by secret scanners.
const tokenPrefix = "hlk_"

// CreateTenant adds a tenant. Its id is the tenantId the domain services
// put in their events (empty: a random one); an id already held is
// ErrExists.
func (s *Store) CreateTenant(ctx context.Context, id, name string) (Tenant, error) {
	if err := checkLabel("tenant name", name); err != nil {
		return Tenant{}, err
	}
	if id == "" {
		id = randomID("t_", 10)
	} else if err := checkID(id); err != nil || id == "" {
		return Tenant{}, err
	}
	if _, ok := s.Tenant(id); ok {
		return Tenant{}, fmt.Errorf("registry: create tenant %q: %w", id, ErrExists)
	}
	t := Tenant{ID: id, Name: name, CreatedAt: time.Now().UTC()}
	v, err := json.Marshal(t)
	if err != nil {
		return Tenant{}, fmt.Errorf("registry: encode tenant: %w", err)
	}
	if _, err := s.write(ctx, tenantPrefix+t.ID, v); err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// Tenant returns the tenant with id.
func (s *Store) Tenant(id string) (Tenant, bool) {
	t, ok := s.snapshot().tenants[id]
	return t, ok
}

// Tenants returns every tenant, oldest first.
func (s *Store) Tenants() []Tenant {
	x := s.snapshot()
	out := make([]Tenant, 0, len(x.tenants))
	for _, t := range x.tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tenant) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// CreateKey issues an API key for the tenant. The token ("hlk_" and 32
// random bytes in base64url) is returned here only; the topic keeps its
// SHA-256, which is enough with 256 bits of entropy: nothing can be
// guessed faster than the token itself.
func (s *Store) CreateKey(ctx context.Context, tenantID, name string) (string, Key, error) {
	if _, ok := s.Tenant(tenantID); !ok {
		return "", Key{}, fmt.Errorf("registry: create key: %w: %q", ErrTenantNotFound, tenantID)
	}
	if err := checkLabel("key name", name); err != nil {
		return "", Key{}, err
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	k := Key{ID: randomID("key_", 8), TenantID: tenantID, Name: name, CreatedAt: time.Now().UTC()}
	v, err := json.Marshal(keyRecord{Key: k, Hash: sum[:]})
	if err != nil {
		return "", Key{}, fmt.Errorf("registry: encode key: %w", err)
	}
	if _, err := s.write(ctx, keyPrefix+k.ID, v); err != nil {
		return "", Key{}, err
	}
	return token, k, nil
}

// Authenticate returns the key whose token this is. The lookup is by the
// token's hash, so timing reveals nothing about stored tokens; the final
// comparison is constant-time all the same.
func (s *Store) Authenticate(token string) (Key, bool) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return Key{}, false
	}
	sum := sha256.Sum256([]byte(token))
	x := s.snapshot()
	id, ok := x.byHash[string(sum[:])]
	if !ok {
		return Key{}, false
	}
	k := x.keys[id]
	if subtle.ConstantTimeCompare(k.Hash, sum[:]) != 1 {
		return Key{}, false
	}
	if _, ok := x.tenants[k.TenantID]; !ok {
		return Key{}, false
	}
	return k.Key, true
}

// Keys returns the tenant's API keys, oldest first.
func (s *Store) Keys(tenantID string) []Key {
	var out []Key
	for _, k := range s.snapshot().keys {
		if k.TenantID == tenantID {
			out = append(out, k.Key)
		}
	}
	slices.SortFunc(out, func(a, b Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// RevokeKey deletes one of the tenant's keys; a key of another tenant is
// ErrKeyNotFound, like an unknown one.
func (s *Store) RevokeKey(ctx context.Context, tenantID, keyID string) error {
	k, ok := s.snapshot().keys[keyID]
	if !ok || k.TenantID != tenantID {
		return fmt.Errorf("registry: revoke: %w: %q", ErrKeyNotFound, keyID)
	}
	_, err := s.write(ctx, keyPrefix+keyID, nil)
	return err
}

func checkLabel(field, v string) error {
	if strings.TrimSpace(v) == "" || len(v) > 200 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: %s: 1 to 200 bytes, no control characters", endpoints.ErrInvalid, field)
	}
	return nil
}
