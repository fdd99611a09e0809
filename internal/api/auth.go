package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"go.uber.org/zap"
)

// KeyAuthenticator resolves a tenant's API key (registry.Store).
type KeyAuthenticator interface {
	Authenticate(token string) (registry.Key, bool)
}

// TenantAdmin creates tenants and their keys (registry.Store).
type TenantAdmin interface {
	CreateTenant(ctx context.Context, id, name string) (registry.Tenant, error)
	Tenant(id string) (registry.Tenant, bool)
	CreateKey(ctx context.Context, tenantID, name string) (token string, k registry.Key, err error)
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

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// authenticate resolves the bearer token. The operator key is compared as
// SHA-256 digests in constant time, so neither its bytes nor its length
// leak through timing.
func (s *Server) authenticate(r *http.Request) (caller, *apiError) {
	tok, ok := bearer(r)
	if !ok || tok == "" {
		return caller{}, errorf(http.StatusUnauthorized, "Authorization", "missing API key: send Authorization: Bearer <key>")
	}
	if s.cfg.OperatorKey != "" {
		a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.OperatorKey))
		if subtle.ConstantTimeCompare(a[:], b[:]) == 1 {
			return caller{keyID: operatorKeyID, operator: true}, nil
		}
	}
	k, ok := s.cfg.Registry.Authenticate(tok)
	if !ok {
		return caller{}, errorf(http.StatusUnauthorized, "Authorization", "invalid API key")
	}
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

type tenantView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

type keyView struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// Token is shown in this response only; the registry keeps a hash.
	Token string `json:"token"`
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var id, name string
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, false, map[string]any{"id": &id, "name": &name}); err != nil {
		return err
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	t, err := s.cfg.Registry.CreateTenant(r.Context(), id, name)
	if errors.Is(err, registry.ErrExists) {
		return errorf(http.StatusConflict, "id", "tenant %q exists", id)
	}
	if errors.Is(err, endpoints.ErrInvalid) && id != "" {
		return badRequest("id", "id must be the tenantId of your events: at most 128 bytes, no \"/\", spaces or control characters")
	}
	if errors.Is(err, endpoints.ErrInvalid) {
		return badRequest("name", "name must be 1 to 200 bytes without control characters")
	}
	if err != nil {
		return s.internal(r, "create tenant", err)
	}
	s.log.Info("tenant created", zap.String("tenant", t.ID))
	writeJSON(w, http.StatusCreated, tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.cfg.Registry.Tenant(id); !ok {
		return notFound("tenant", id)
	}
	var name string
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, true, map[string]any{"name": &name}); err != nil {
		return err
	}
	if name == "" {
		name = "default"
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	tok, k, err := s.cfg.Registry.CreateKey(r.Context(), id, name)
	if errors.Is(err, registry.ErrTenantNotFound) {
		return notFound("tenant", id)
	}
	if errors.Is(err, endpoints.ErrInvalid) {
		return badRequest("name", "name must be 1 to 200 bytes without control characters")
	}
	if err != nil {
		return s.internal(r, "create key", err)
	}
	s.log.Info("api key created", zap.String("tenant", id), zap.String("key", k.ID))
	writeJSON(w, http.StatusCreated, keyView{ID: k.ID, TenantID: k.TenantID, Name: k.Name, CreatedAt: k.CreatedAt, Token: tok})
	return nil
}

func checkName(field, v string) error {
	if strings.TrimSpace(v) == "" || len(v) > 200 {
		return badRequest(field, "%s must be 1 to 200 characters", field)
	}
	return nil
}
