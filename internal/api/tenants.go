package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"go.uber.org/zap"
)

type tenantView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

func tenantViewOf(t registry.Tenant) tenantView {
	return tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
}

type tenantPage struct {
	Data       []tenantView `json:"data"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

// listTenants pages through every tenant, oldest first, as endpoints are
// paged: a registry may hold more tenants than one answer should carry.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after, err := decodeCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	// Tenants() is in creation order, ids breaking ties: comparePos's.
	all := s.cfg.Registry.Tenants()
	pos := func(t registry.Tenant) position { return position{t.CreatedAt.UnixNano(), t.ID} }
	page := tenantPage{Data: []tenantView{}}
	var last position
	for _, t := range all {
		if comparePos(pos(t), after) <= 0 {
			continue
		}
		if len(page.Data) == limit {
			page.NextCursor = encodeCursor(last)
			break
		}
		page.Data, last = append(page.Data, tenantViewOf(t)), pos(t)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
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
	writeJSON(w, http.StatusCreated, tenantViewOf(t))
	return nil
}

// knownTenant is the tenant of an operator route's path, or its 404.
func (s *Server) knownTenant(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, ok := s.cfg.Registry.Tenant(id); !ok {
		return "", notFound("tenant", id)
	}
	return id, nil
}

func checkName(field, v string) error {
	if strings.TrimSpace(v) == "" || len(v) > 200 {
		return badRequest(field, "%s must be 1 to 200 characters", field)
	}
	return nil
}
