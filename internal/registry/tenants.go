package registry

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"go.uber.org/zap"
)

// Tenant is a customer account.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Key is an API key's public part; its token is shown once by CreateKey.
// Every field but LastUsedAt is its record's, written once at create.
type Key struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// Prefix is the token's first characters ("hlk_AbCd"), which tell
	// keys apart in a list and match a leaked token to its key while
	// giving away 24 of its 256 random bits. Keys created before the
	// prefix was stored have none.
	Prefix string `json:"prefix,omitempty"`
	// ExpiresAt is when the key stops authenticating; zero: never.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// LastUsedAt is the key's last recorded use (NoteKeyUse; zero: none),
	// at most KeyUseInterval stale. It comes from the key's own use
	// record, so it is never part of the key record.
	LastUsedAt time.Time `json:"-"`
}

// Expired reports whether the key has stopped authenticating at now.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// tokenPrefix marks hookline API tokens, so that a leaked one is easy to
// recognise in logs and by secret scanners.
const tokenPrefix = "hlk_"

// shownPrefix is how much of a token Key.Prefix keeps: tokenPrefix and 4
// base64 characters (24 bits).
const shownPrefix = len(tokenPrefix) + 4

// MaxKeysPerTenant caps a tenant's keys, expired ones included: a tenant
// creates its own keys, and a leaked one must not be able to fill the
// registry with more.
const MaxKeysPerTenant = 100

// Key errors.
var (
	// ErrKeyExpiry: the expiry asked for is not in the future.
	ErrKeyExpiry = errors.New("api key expiry is not in the future")
	// ErrTooManyKeys: the tenant holds MaxKeysPerTenant keys already.
	ErrTooManyKeys = errors.New("tenant has too many api keys")
)

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

// CreateKey issues an API key for the tenant that never expires; see
// CreateKeyUntil.
func (s *Store) CreateKey(ctx context.Context, tenantID, name string) (string, Key, error) {
	return s.CreateKeyUntil(ctx, tenantID, name, time.Time{})
}

// CreateKeyUntil issues an API key for the tenant that authenticates until
// expiresAt (zero: for ever; a time not in the future is ErrKeyExpiry).
// The token ("hlk_" and 32 random bytes in base64url) is returned here
// only; the topic keeps its SHA-256, which is enough with 256 bits of
// entropy: nothing can be guessed faster than the token itself.
func (s *Store) CreateKeyUntil(ctx context.Context, tenantID, name string, expiresAt time.Time) (string, Key, error) {
	if _, ok := s.Tenant(tenantID); !ok {
		return "", Key{}, fmt.Errorf("registry: create key: %w: %q", ErrTenantNotFound, tenantID)
	}
	if err := checkLabel("key name", name); err != nil {
		return "", Key{}, err
	}
	now := time.Now().UTC()
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return "", Key{}, fmt.Errorf("registry: create key: %w: %s", ErrKeyExpiry, expiresAt.Format(time.RFC3339))
	}
	if n := len(s.Keys(tenantID)); n >= MaxKeysPerTenant {
		return "", Key{}, fmt.Errorf("registry: create key: %w: %d, at most %d", ErrTooManyKeys, n, MaxKeysPerTenant)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	k := Key{ID: randomID("key_", 8), TenantID: tenantID, Name: name, CreatedAt: now, Prefix: token[:shownPrefix]}
	if !expiresAt.IsZero() {
		k.ExpiresAt = expiresAt.UTC()
	}
	v, err := json.Marshal(keyRecord{Key: k, Hash: sum[:]})
	if err != nil {
		return "", Key{}, fmt.Errorf("registry: encode key: %w", err)
	}
	if _, err := s.write(ctx, keyPrefix+k.ID, v); err != nil {
		return "", Key{}, err
	}
	return token, k, nil
}

// Authenticate returns the key whose token this is, unless it expired or
// its tenant is gone. The lookup is by the token's hash, so timing reveals
// nothing about stored tokens; the final comparison is constant-time all
// the same. The Key it returns carries no LastUsedAt.
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
	if _, ok := x.tenants[k.TenantID]; !ok || k.Expired(time.Now()) {
		return Key{}, false
	}
	return k.Key, true
}

// Keys returns the tenant's API keys, expired ones included, oldest
// first.
func (s *Store) Keys(tenantID string) []Key {
	x := s.snapshot()
	var out []Key
	for id, k := range x.keys {
		if k.TenantID == tenantID {
			kk := k.Key
			kk.LastUsedAt = x.used[id]
			out = append(out, kk)
		}
	}
	slices.SortFunc(out, func(a, b Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Key returns the API key with id, whichever its tenant.
func (s *Store) Key(id string) (Key, bool) {
	x := s.snapshot()
	k, ok := x.keys[id]
	if !ok {
		return Key{}, false
	}
	kk := k.Key
	kk.LastUsedAt = x.used[id]
	return kk, true
}

// RevokeKey deletes one of the tenant's keys; a key of another tenant is
// ErrKeyNotFound, like an unknown one. The key's tombstone goes first, so
// the key is refused everywhere as soon as it lands; its use record's
// follows, after any use recorded before it (one recorded after it is
// deleted by its writer, see writeUse). Once the key's tombstone landed
// the revocation stands: a use record left by a failed second write is
// logged and deleted by the next Open.
func (s *Store) RevokeKey(ctx context.Context, tenantID, keyID string) error {
	k, ok := s.snapshot().keys[keyID]
	if !ok || k.TenantID != tenantID {
		return fmt.Errorf("registry: revoke: %w: %q", ErrKeyNotFound, keyID)
	}
	if _, err := s.write(ctx, keyPrefix+keyID, nil); err != nil {
		return err
	}
	s.uses.forget(keyID)
	if _, err := s.write(ctx, keyUsePrefix+keyID, nil); err != nil {
		s.log.Warn("registry: the key is revoked but deleting its use record failed; the next Open deletes it", zap.String("key", keyID), zap.Error(err))
	}
	return nil
}

func checkLabel(field, v string) error {
	if strings.TrimSpace(v) == "" || len(v) > 200 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: %s: 1 to 200 bytes, no control characters", endpoints.ErrInvalid, field)
	}
	return nil
}
