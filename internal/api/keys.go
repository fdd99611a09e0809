package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"go.uber.org/zap"
)

// Keys are managed by the operator for any tenant (under
// /v1/tenants/{id}/keys) and by a tenant for itself (under /v1/keys),
// through the same three handlers. A key of another tenant is not found,
// exactly like one that does not exist.

// keyView is a key as lists show it: never its token nor its hash, only
// the display prefix stored at create.
type keyView struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenantId"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
}

// newKeyView is the answer to a create, the one response with the token.
type newKeyView struct {
	keyView
	// Token is shown in this response only; the registry keeps a hash.
	Token string `json:"token"`
}

func keyViewOf(k registry.Key) keyView {
	return keyView{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt}
}

type keyList struct {
	Data []keyView `json:"data"`
}

func (s *Server) listKeys(w http.ResponseWriter, tenant string) error {
	out := keyList{Data: []keyView{}}
	for _, k := range s.cfg.Registry.Keys(tenant) {
		out.Data = append(out.Data, keyViewOf(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// keyExpiry reads a create's expiry: expiresIn, a positive duration from
// now, or expiresAt, an RFC 3339 time in the future; neither: never.
func keyExpiry(now time.Time, in, at *string) (time.Time, error) {
	switch {
	case in != nil && at != nil:
		return time.Time{}, badRequest("expiresAt", "send expiresIn or expiresAt, not both")
	case in != nil:
		d, err := time.ParseDuration(*in)
		if err != nil {
			return time.Time{}, badRequest("expiresIn", `expiresIn must be a duration such as "720h" (30 days) or "90m"`)
		}
		if d <= 0 {
			return time.Time{}, badRequest("expiresIn", "expiresIn must be positive: a key cannot expire in the past")
		}
		return now.Add(d), nil
	case at != nil:
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return time.Time{}, badRequest("expiresAt", `expiresAt must be an RFC 3339 time such as "2027-01-31T00:00:00Z"`)
		}
		if !t.After(now) {
			return time.Time{}, badRequest("expiresAt", "expiresAt %s is in the past", *at)
		}
		return t, nil
	}
	return time.Time{}, nil
}

func (s *Server) createKeyFor(w http.ResponseWriter, r *http.Request, tenant string) error {
	var name string
	var expiresIn, expiresAt *string
	fields := map[string]any{"name": &name, "expiresIn": &expiresIn, "expiresAt": &expiresAt}
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, true, fields); err != nil {
		return err
	}
	if name == "" {
		name = "default"
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	until, err := keyExpiry(s.cfg.Now(), expiresIn, expiresAt)
	if err != nil {
		return err
	}
	tok, k, err := s.cfg.Registry.CreateKeyUntil(r.Context(), tenant, name, until)
	switch {
	case errors.Is(err, registry.ErrTenantNotFound):
		return notFound("tenant", tenant)
	case errors.Is(err, endpoints.ErrInvalid):
		return badRequest("name", "name must be 1 to 200 bytes without control characters")
	case errors.Is(err, registry.ErrKeyExpiry):
		field := "expiresAt"
		if expiresIn != nil {
			field = "expiresIn"
		}
		return badRequest(field, "%s must be in the future", field)
	case errors.Is(err, registry.ErrTooManyKeys):
		return errorf(http.StatusConflict, "", "a tenant has at most %d API keys; revoke one it no longer uses first", registry.MaxKeysPerTenant)
	case err != nil:
		return s.internal(r, "create key", err)
	}
	logged := []zap.Field{zap.String("tenant", tenant), zap.String("key", k.ID)}
	if !k.ExpiresAt.IsZero() {
		logged = append(logged, zap.Time("expires", k.ExpiresAt))
	}
	s.log.Info("api key created", logged...)
	writeJSON(w, http.StatusCreated, newKeyView{keyView: keyViewOf(k), Token: tok})
	return nil
}

// revokeKeyOf revokes one of the tenant's keys. Every process refuses the
// key once its follower has the tombstone (within FetchMaxWait, 100 ms by
// default), the one answering first.
func (s *Server) revokeKeyOf(w http.ResponseWriter, r *http.Request, tenant, keyID string) error {
	err := s.cfg.Registry.RevokeKey(r.Context(), tenant, keyID)
	if errors.Is(err, registry.ErrKeyNotFound) {
		return notFound("API key", keyID)
	}
	if err != nil {
		return s.internal(r, "revoke key", err)
	}
	s.log.Info("api key revoked", zap.String("tenant", tenant), zap.String("key", keyID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The operator's routes, for the tenant in the path.

func (s *Server) listTenantKeys(w http.ResponseWriter, r *http.Request) error {
	tenant, err := s.knownTenant(r)
	if err != nil {
		return err
	}
	return s.listKeys(w, tenant)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	tenant, err := s.knownTenant(r)
	if err != nil {
		return err
	}
	return s.createKeyFor(w, r, tenant)
}

func (s *Server) revokeTenantKey(w http.ResponseWriter, r *http.Request) error {
	tenant, err := s.knownTenant(r)
	if err != nil {
		return err
	}
	return s.revokeKeyOf(w, r, tenant, r.PathValue("keyId"))
}

// A tenant's routes, for its own keys.

func (s *Server) listOwnKeys(w http.ResponseWriter, _ *http.Request, tenant string) error {
	return s.listKeys(w, tenant)
}

func (s *Server) createOwnKey(w http.ResponseWriter, r *http.Request, tenant string) error {
	return s.createKeyFor(w, r, tenant)
}

func (s *Server) revokeOwnKey(w http.ResponseWriter, r *http.Request, tenant string) error {
	return s.revokeKeyOf(w, r, tenant, r.PathValue("id"))
}
