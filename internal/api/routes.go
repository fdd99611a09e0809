package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// route is one pattern of the API and its handler.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routeTable lists every route; openapi.yaml documents the same set
// (the OpenAPI tests hold the two together).
func (s *Server) routeTable() []route {
	return []route{
		{"GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}},
		{"GET /v1/openapi.yaml", serveOpenAPI},

		// The management page (no key: it signs in in the browser).
		{"GET /{$}", s.page.serveIndex},
		{"GET /ui/{file}", s.page.serveAsset},

		{"POST /v1/tenants", s.operator(s.createTenant)},
		{"GET /v1/tenants", s.operator(s.listTenants)},
		{"POST /v1/tenants/{id}/keys", s.operator(s.createKey)},
		{"GET /v1/tenants/{id}/keys", s.operator(s.listTenantKeys)},
		{"DELETE /v1/tenants/{id}/keys/{keyId}", s.operator(s.revokeTenantKey)},

		// A tenant's own keys.
		{"GET /v1/keys", s.tenant(s.listOwnKeys)},
		{"POST /v1/keys", s.tenant(s.createOwnKey)},
		{"DELETE /v1/keys/{id}", s.tenant(s.revokeOwnKey)},

		{"GET /v1/applications", s.anyKey(s.listApplications)},
		{"GET /v1/applications/{id}", s.anyKey(s.getApplication)},
		{"PUT /v1/applications/{id}", s.operator(s.putApplication)},
		{"DELETE /v1/applications/{id}", s.operator(s.deleteApplication)},
		{"PUT /v1/applications/{id}/event-types/{type}", s.operator(s.putEventType)},

		{"GET /v1/event-types", s.anyKey(s.eventTypes)},
		{"POST /v1/events", s.ingesting(s.ingest)},

		{"POST /v1/endpoints", s.tenant(s.createEndpoint)},
		{"GET /v1/endpoints", s.tenant(s.listEndpoints)},
		{"GET /v1/endpoints/{id}", s.tenant(s.getEndpoint)},
		{"PATCH /v1/endpoints/{id}", s.tenant(s.patchEndpoint)},
		{"DELETE /v1/endpoints/{id}", s.tenant(s.deleteEndpoint)},
		{"POST /v1/endpoints/{id}/rotate-secret", s.tenant(s.rotateSecret)},
		{"POST /v1/endpoints/{id}/test", s.tenant(s.testEndpoint)},

		{"GET /v1/endpoints/{id}/deliveries", s.tenant(s.listDeliveries)},
		{"GET /v1/endpoints/{id}/health", s.tenant(s.endpointHealth)},
		{"GET /v1/deliveries/{id}", s.tenant(s.getDelivery)},

		{"POST /v1/deliveries/{id}/retry", s.tenant(s.retryDelivery)},
		{"POST /v1/endpoints/{id}/replay", s.tenant(s.replayEndpoint)},
		{"GET /v1/replays/{id}", s.tenant(s.replayJob)},
	}
}

// noRoute starts the message of a 404 for a path no route serves, which
// is told apart from a resource that is not found.
const noRoute = "no route "

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		mux.HandleFunc(rt.pattern, rt.handler)
	}
	table := s.routeTable()
	mux.HandleFunc("/", s.logged(func(w http.ResponseWriter, r *http.Request) error {
		// The catch-all takes every request no route matches, a wrong
		// method on a served path too: that one is told what to use.
		if methods := allowedMethods(table, r.URL.Path); len(methods) > 0 {
			allow := strings.Join(methods, ", ")
			w.Header().Set("Allow", allow)
			return errorf(http.StatusMethodNotAllowed, "", "%s is not served on %s; use %s", r.Method, r.URL.Path, allow)
		}
		return errorf(http.StatusNotFound, "", noRoute+"%s %s", r.Method, r.URL.Path)
	}))
	return mux
}

// allowedMethods lists, sorted, the methods the routes serve on path (HEAD
// wherever GET is, as the mux serves it).
func allowedMethods(table []route, path string) []string {
	var out []string
	for _, rt := range table {
		method, tmpl, _ := strings.Cut(rt.pattern, " ")
		if !pathMatches(tmpl, path) {
			continue
		}
		out = append(out, method)
		if method == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pathMatches reports whether path fits a route's path template, whose
// {name} segments take any one non-empty segment and whose {$} ends it.
func pathMatches(tmpl, path string) bool {
	if exact, ok := strings.CutSuffix(tmpl, "{$}"); ok {
		return path == exact
	}
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && ps[i] != "" {
			continue
		}
		if t != ps[i] {
			return false
		}
	}
	return true
}

// recorder remembers what the log line needs: status and caller.
type recorder struct {
	http.ResponseWriter
	status int
	tenant string
	key    string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func noteCaller(w http.ResponseWriter, c caller) {
	if rec, ok := w.(*recorder); ok {
		rec.tenant, rec.key = c.tenant, c.keyID
	}
}

// logged writes a route's error as JSON and logs one line per request:
// the route pattern, never the query, headers or body, which may carry
// keys and secrets.
func (s *Server) logged(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		if err := h(rec, r); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = &apiError{status: http.StatusInternalServerError, Msg: "internal error"}
			}
			writeJSON(rec, ae.status, ae)
		}
		s.log.Debug("request", zap.String("method", r.Method), zap.String("route", r.Pattern),
			zap.Int("status", rec.status), zap.Duration("took", time.Since(start)),
			zap.String("tenant", rec.tenant), zap.String("key", rec.key))
	}
}

// internal logs err (which never holds a secret: stores name ids only) and
// answers 500 without details.
func (s *Server) internal(r *http.Request, what string, err error) error {
	s.log.Error(what+" failed", zap.String("route", r.Pattern), zap.Error(err))
	return &apiError{status: http.StatusInternalServerError, Msg: what + " failed; try again"}
}

// unavailable answers routes whose backend the server was built without.
func unavailable(what string) error {
	return errorf(http.StatusNotImplemented, "", "%s is not available on this server", what)
}

// Routes lists the API's route patterns, e.g. "GET /v1/endpoints/{id}",
// as the OpenAPI document writes them ("GET /" for the exact root).
func Routes() []string {
	var out []string
	for _, rt := range (&Server{}).routeTable() {
		out = append(out, strings.TrimSuffix(rt.pattern, "{$}"))
	}
	return out
}
