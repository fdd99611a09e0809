package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/registry"
)

// KeyAuthenticator resolves a tenant's API key (registry.Store).
type KeyAuthenticator interface {
	Authenticate(token string) (registry.Key, bool)
	// NoteKeyUse records that the key was used, without blocking.
	NoteKeyUse(keyID string)
}

// TenantAdmin lists and creates tenants, and lists, creates and revokes
// their keys (registry.Store).
type TenantAdmin interface {
	CreateTenant(ctx context.Context, id, name string) (registry.Tenant, error)
	Tenant(id string) (registry.Tenant, bool)
	Tenants() []registry.Tenant
	CreateKeyUntil(ctx context.Context, tenantID, name string, expiresAt time.Time) (token string, k registry.Key, err error)
	Keys(tenantID string) []registry.Key
	RevokeKey(ctx context.Context, tenantID, keyID string) error
}

// operatorKeyID names the operator in rate limits and logs.
const operatorKeyID = "operator"

// caller is who a request authenticated as.
type caller struct {
	keyID    string
	tenant   string // "" for the operator
	operator bool
}

// tenantHandler is a route acting for one tenant.
type tenantHandler func(w http.ResponseWriter, r *http.Request, tenant string) error

// credential returns the key an Authorization header carries: "Bearer
// <key>", or the key alone, as some products call webhook APIs. Any other
// value (another scheme, words with spaces) carries none.
func credential(r *http.Request) (string, *apiError) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", errorf(http.StatusUnauthorized, "Authorization", "missing API key: send Authorization: Bearer <key>")
	}
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		h = strings.TrimSpace(h[len(p):])
	}
	if strings.ContainsAny(h, " \t") {
		return "", errorf(http.StatusUnauthorized, "Authorization", "send Authorization: Bearer <key>, or the key alone")
	}
	return h, nil
}

// authenticate resolves the request's key. The operator key is compared
// as SHA-256 digests in constant time, so neither its bytes nor its
// length leak through timing; a tenant key is looked up by its hash (see
// registry.Store.Authenticate). A tenant key's use is noted in the
// background, never on the request's time.
func (s *Server) authenticate(r *http.Request) (caller, *apiError) {
	tok, aerr := credential(r)
	if aerr != nil {
		return caller{}, aerr
	}
	if s.cfg.OperatorKey != "" {
		a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.OperatorKey))
		if subtle.ConstantTimeCompare(a[:], b[:]) == 1 {
			return caller{keyID: operatorKeyID, operator: true}, nil
		}
	}
	k, ok := s.cfg.Registry.Authenticate(tok)
	if !ok {
		return caller{}, errorf(http.StatusUnauthorized, "Authorization", "invalid API key: unknown, revoked or expired")
	}
	s.cfg.Registry.NoteKeyUse(k.ID)
	return caller{keyID: k.ID, tenant: k.TenantID}, nil
}

// Roles a route serves.
type role int

const (
	roleTenant   role = iota // a tenant's key, acting for its tenant
	roleOperator             // the operator key
	roleAny                  // either: catalogs and dialects are no tenant's secret
)

// guarded authenticates, rate-limits per key with lim (what names the
// kind of request in a 429) and checks the role.
func (s *Server) guarded(want role, lim *limiters, what string, h func(w http.ResponseWriter, r *http.Request, c caller) error) http.HandlerFunc {
	return s.logged(func(w http.ResponseWriter, r *http.Request) error {
		c, aerr := s.authenticate(r)
		if aerr != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hookline"`)
			return aerr
		}
		noteCaller(w, c)
		if wait, ok := lim.allow(c.keyID, s.cfg.Now()); !ok {
			tooManyRequests(w, wait, what)
			return nil
		}
		switch {
		case want == roleAny:
		case want == roleOperator && !c.operator:
			return errorf(http.StatusForbidden, "Authorization", "this route needs the operator key")
		case want == roleTenant && c.operator:
			return errorf(http.StatusForbidden, "Authorization", "the operator key does not act for a tenant; use one of the tenant's keys")
		}
		return h(w, r, c)
	})
}

func (s *Server) tenant(h tenantHandler) http.HandlerFunc {
	return s.guarded(roleTenant, s.limits, "request", func(w http.ResponseWriter, r *http.Request, c caller) error { return h(w, r, c.tenant) })
}

// anyKey serves a route to every key; the handler gets the tenant, ""
// for the operator.
func (s *Server) anyKey(h tenantHandler) http.HandlerFunc {
	return s.guarded(roleAny, s.limits, "request", func(w http.ResponseWriter, r *http.Request, c caller) error { return h(w, r, c.tenant) })
}

// ingesting is a tenant route paced by the ingest budget.
func (s *Server) ingesting(h tenantHandler) http.HandlerFunc {
	return s.guarded(roleTenant, s.ingestLimits, "event", func(w http.ResponseWriter, r *http.Request, c caller) error { return h(w, r, c.tenant) })
}

func (s *Server) operator(h handlerFunc) http.HandlerFunc {
	return s.guarded(roleOperator, s.limits, "request", func(w http.ResponseWriter, r *http.Request, _ caller) error { return h(w, r) })
}
