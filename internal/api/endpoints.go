package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/registry"
	"go.uber.org/zap"
)

// EndpointReader looks endpoints up (endpoints.Registry's read side).
type EndpointReader interface {
	ForTenant(tenant string) []*endpoints.Endpoint
	Get(id string) *endpoints.Endpoint
}

// EndpointWriter stores endpoints (registry.Store). Create and Update
// return registry.ErrNameTaken for a name the tenant already uses.
type EndpointWriter interface {
	Create(ctx context.Context, e *endpoints.Endpoint) (*endpoints.Endpoint, error)
	Update(ctx context.Context, id string, change func(*endpoints.Endpoint) error) (*endpoints.Endpoint, error)
	Delete(ctx context.Context, id string) error
}

// Registry is everything the API keeps in the registry.
type Registry interface {
	KeyAuthenticator
	TenantAdmin
	EndpointReader
	EndpointWriter
	SecretRotator
}

// endpointView is an endpoint as the API shows it: effective limits, a
// status instead of the raw switch, and never a secret except Secret,
// filled once, by create and rotate.
type endpointView struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	URL            string   `json:"url"`
	Application    string   `json:"application,omitempty"`
	EventTypes     []string `json:"eventTypes"`
	Active         bool     `json:"active"`
	Status         string   `json:"status"`
	DisabledReason string   `json:"disabledReason,omitempty"`
	Scheme         string   `json:"scheme"`
	// SignatureFormat is shown for the hookline scheme, the one it shapes.
	SignatureFormat string   `json:"signatureFormat,omitempty"`
	Auth            authView `json:"auth"`
	Timeout         string   `json:"timeout"`
	MaxItems        int      `json:"maxItems"`
	MaxWait         string   `json:"maxWait"`
	MaxBytes        int      `json:"maxBytes"`
	RetryPolicy     string   `json:"retryPolicy"`
	MaxAge          string   `json:"maxAge,omitempty"`
	// HeaderPrefix names the hookline scheme's headers; UserAgent and
	// RetrySchedule (empty: the deployment's retry tiers) as sent.
	HeaderPrefix  string   `json:"headerPrefix,omitempty"`
	UserAgent     string   `json:"userAgent"`
	RetrySchedule []string `json:"retrySchedule"`
	// Own names the delivery settings the endpoint sets itself; the
	// others follow its application.
	Own           []string     `json:"own"`
	IgnoreOrigins []string     `json:"ignoreOrigins"`
	IgnoreFields  []string     `json:"ignoreFields"`
	Payload       payload.Spec `json:"payload"`
	SecretSet     bool         `json:"secretSet"`
	RotatedUntil  *time.Time   `json:"rotatedUntil,omitempty"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
	Secret        string       `json:"secret,omitempty"`
}

func status(e *endpoints.Endpoint) string {
	switch {
	case !e.Disabled:
		return "active"
	case e.DisabledReason == reasonInactive:
		return "inactive"
	}
	return "disabled"
}

func (s *Server) viewOf(e *endpoints.Endpoint) endpointView {
	// Every field shows the value deliveries use: the endpoint's own, else
	// its application's, else this deployment's default.
	r := s.filled(e.Resolved())
	v := endpointView{
		ID: e.ID, Name: e.Name, URL: e.URL, Application: e.Application, EventTypes: nonNil(e.EventTypes),
		Active: !e.Disabled, Status: status(e), DisabledReason: e.DisabledReason, Scheme: r.Scheme,
		Timeout: time.Duration(r.Timeout).String(), MaxItems: r.MaxItems, MaxWait: time.Duration(r.MaxWait).String(), MaxBytes: r.MaxBytes,
		RetryPolicy: r.RetryPolicy, IgnoreOrigins: nonNil(e.IgnoreOrigins), IgnoreFields: nonNil(e.IgnoreFields),
		SecretSet: len(e.Secrets) > 0 && e.Secrets[0] != "", CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		Auth: authViewOf(e), HeaderPrefix: r.HeaderPrefix, UserAgent: r.UserAgent, RetrySchedule: []string{},
		Own: nonNil(e.OwnFields()),
	}
	if v.UserAgent == "" {
		v.UserAgent = delivery.DefaultUserAgent
	}
	if v.Scheme == endpoints.SchemeHookline {
		v.SignatureFormat = cmp.Or(r.SignatureFormat, endpoints.SignatureSHA256)
	} else {
		v.HeaderPrefix = ""
	}
	if r.Payload != nil {
		v.Payload = *r.Payload
	}
	if v.Payload.Shape == "" {
		v.Payload.Shape = payload.ShapeFull
	}
	if r.MaxAge > 0 {
		v.MaxAge = time.Duration(r.MaxAge).String()
	}
	for _, w := range r.RetrySchedule {
		v.RetrySchedule = append(v.RetrySchedule, time.Duration(w).String())
	}
	if len(e.Secrets) > 1 && !e.RotatedUntil.IsZero() {
		t := e.RotatedUntil
		v.RotatedUntil = &t
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// owned returns the tenant's endpoint id; another tenant's is not found,
// exactly like one that does not exist.
func (s *Server) owned(tenant, id string) (*endpoints.Endpoint, error) {
	ep := s.cfg.Registry.Get(id)
	if ep == nil || ep.TenantID != tenant {
		return nil, notFound("endpoint", id)
	}
	return ep, nil
}

// storeErr maps the registry's errors to statuses.
func (s *Server) storeErr(r *http.Request, what, id string, err error) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, registry.ErrNameTaken):
		return errorf(http.StatusConflict, "name", "this tenant already has an endpoint with that name")
	case errors.Is(err, registry.ErrConflict):
		return errorf(http.StatusConflict, "", "the endpoint is being changed by other requests; try again")
	case errors.Is(err, endpoints.ErrNotFound):
		return notFound("endpoint", id)
	case errors.Is(err, endpoints.ErrInvalid):
		return validateErr(id, err)
	}
	return s.internal(r, what, err)
}

// newEndpointID starts with the creation time, so ids list in creation
// order, and ends with 10 random bytes.
func newEndpointID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return "ep_" + hex.EncodeToString(b[:])
}

func (s *Server) nameTaken(tenant, name, except string) bool {
	return slices.ContainsFunc(s.cfg.Registry.ForTenant(tenant), func(e *endpoints.Endpoint) bool {
		return e.Name == name && e.ID != except
	})
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	var in endpointInput
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, false, in.fields()); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	// Fields the body leaves out stay empty, so they follow the
	// application's dialect (and the deployment's defaults) as it changes.
	ep := &endpoints.Endpoint{ID: newEndpointID(now), TenantID: tenant, CreatedAt: now, UpdatedAt: now}
	if in.URL == nil {
		return badRequest("url", "url is required")
	}
	in.apply(ep)
	if in.Scheme != nil {
		ep.Scheme = *in.Scheme
	}
	if in.Application != nil {
		ep.Application = *in.Application
		if ep.Application == applications.DefaultID {
			ep.Application = ""
		}
	}
	ep.AppDialect = s.dialectOf(ep.Application)
	if err := createAuth(ep, in.Auth); err != nil {
		return err
	}
	secret := newSecret()
	if in.Secret != nil {
		if err := checkSecret(ep.Resolved().Scheme, *in.Secret); err != nil {
			return err
		}
		secret = *in.Secret
	}
	ep.Secrets = []string{secret}
	if err := s.checkFields(ep); err != nil {
		return err
	}
	if err := s.checkURL(r.Context(), ep.URL); err != nil {
		return err
	}
	if err := s.checkAuthURL(r.Context(), ep); err != nil {
		return err
	}
	if s.nameTaken(tenant, ep.Name, "") {
		return errorf(http.StatusConflict, "name", "this tenant already has an endpoint with that name")
	}
	if in.Verify == nil || *in.Verify {
		if err := s.verify(r.Context(), ep); err != nil {
			return err
		}
	}
	got, err := s.cfg.Registry.Create(r.Context(), ep)
	if err != nil {
		return s.storeErr(r, "create endpoint", ep.ID, err)
	}
	s.log.Info("endpoint created", zap.String("tenant", tenant), zap.String("endpoint", got.ID), zap.String("scheme", got.Scheme), zap.String("auth", got.AuthType()))
	v := s.viewOf(got)
	v.Secret = secret
	w.Header().Set("Location", "/v1/endpoints/"+got.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

type endpointPage struct {
	Data       []endpointView `json:"data"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	want := q.Get("status")
	if want != "" && want != "active" && want != "inactive" && want != "disabled" {
		return badRequest("status", `status must be "active", "inactive" or "disabled"`)
	}
	after, err := decodeCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	all := slices.Clone(s.cfg.Registry.ForTenant(tenant))
	slices.SortFunc(all, func(a, b *endpoints.Endpoint) int { return comparePos(positionOf(a), positionOf(b)) })
	page := endpointPage{Data: []endpointView{}}
	var last position
	for _, e := range all {
		if comparePos(positionOf(e), after) <= 0 || (want != "" && status(e) != want) {
			continue
		}
		if len(page.Data) == limit {
			page.NextCursor = encodeCursor(last)
			break
		}
		page.Data, last = append(page.Data, s.viewOf(e)), positionOf(e)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// position orders endpoints by creation; ids break ties.
type position struct {
	at int64
	id string
}

func positionOf(e *endpoints.Endpoint) position { return position{e.CreatedAt.UnixNano(), e.ID} }

func comparePos(a, b position) int {
	return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.id, b.id))
}

// Cursors are opaque to clients: base64url of "<created ns>:<id>".
func encodeCursor(p position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.at, 10) + ":" + p.id))
}

func decodeCursor(c string) (position, error) {
	if c == "" {
		return position{at: math.MinInt64}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	at, id, ok := strings.Cut(string(b), ":")
	n, nerr := strconv.ParseInt(at, 10, 64)
	if err != nil || !ok || nerr != nil || id == "" {
		return position{}, badRequest("cursor", "cursor is not one this API issued; pass the nextCursor of the previous page")
	}
	return position{n, id}, nil
}

// pageLimit reads ?limit: default 20, at most maxListSize.
func pageLimit(v string) (int, error) {
	if v == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListSize {
		return 0, badRequest("limit", "limit must be 1 to %d", maxListSize)
	}
	return n, nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewOf(ep))
	return nil
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.cfg.Registry.Delete(r.Context(), ep.ID); err != nil {
		return s.storeErr(r, "delete endpoint", ep.ID, err)
	}
	s.log.Info("endpoint deleted", zap.String("tenant", tenant), zap.String("endpoint", ep.ID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) patchEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in endpointInput
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, false, in.fields()); err != nil {
		return err
	}
	if in.Secret != nil {
		return badRequest("secret", "the secret changes only through POST /v1/endpoints/{id}/rotate-secret")
	}
	now := s.cfg.Now().UTC()
	change := func(e *endpoints.Endpoint) error {
		if e.TenantID != tenant {
			return notFound("endpoint", e.ID)
		}
		if in.Application != nil && *in.Application != e.Application {
			return badRequest("application", "application is fixed when the endpoint is created")
		}
		if in.Scheme != nil && *in.Scheme != s.viewOf(e).Scheme {
			return badRequest("scheme", "the signing scheme is fixed when the endpoint is created; create a new endpoint to change it")
		}
		if err := patchAuth(e, in.Auth); err != nil {
			return err
		}
		in.apply(e)
		e.UpdatedAt = now
		return s.checkFields(e)
	}
	// A dry run on a copy checks everything, and pings a new URL, before
	// anything is written.
	trial := *ep
	if err := change(&trial); err != nil {
		return err
	}
	if trial.URL != ep.URL {
		if err := s.checkURL(r.Context(), trial.URL); err != nil {
			return err
		}
	}
	if err := s.checkAuthURL(r.Context(), &trial); err != nil {
		return err
	}
	if trial.Name != ep.Name && s.nameTaken(tenant, trial.Name, ep.ID) {
		return errorf(http.StatusConflict, "name", "this tenant already has an endpoint with that name")
	}
	if (trial.URL != ep.URL || in.Auth != nil) && (in.Verify == nil || *in.Verify) {
		if err := s.verify(r.Context(), &trial); err != nil {
			return err
		}
	}
	got, err := s.cfg.Registry.Update(r.Context(), ep.ID, change)
	if err != nil {
		return s.storeErr(r, "update endpoint", ep.ID, err)
	}
	s.log.Info("endpoint updated", zap.String("tenant", tenant), zap.String("endpoint", got.ID))
	writeJSON(w, http.StatusOK, s.viewOf(got))
	return nil
}
