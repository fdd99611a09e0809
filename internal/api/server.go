// Package api is hookline's management HTTP API: tenants and their keys
// (the operator; a tenant lists, creates and revokes its own keys),
// endpoints with their secrets, the event catalog, the delivery log and
// endpoint health, HTTP ingest of events, and retry and replay of
// deliveries, plus the management page at / that is a client of these
// routes. Every tenant route answers for the calling key's
// tenant alone; another tenant's ids are simply not found. The OpenAPI 3
// description of every route is embedded and served at /v1/openapi.yaml.
package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/egress"
	"github.com/hookline/hookline/internal/endpoints"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultMaxBodyBytes  = 1 << 20
	DefaultRatePerSecond = 20
	DefaultOverlap       = 24 * time.Hour
)

// Config configures a Server. Registry is required; every other zero value
// works (routes whose backend is missing answer 501).
type Config struct {
	// Addr is the listen address of Listen and Run. Default "127.0.0.1:8080".
	Addr string
	// Registry holds tenants, API keys and endpoints (a *registry.Store).
	// Required.
	Registry Registry
	// Deliveries reads the delivery log and endpoint health (a
	// *deliverylog.Reader). Default nil: those routes answer 501.
	Deliveries DeliveryReader
	// Publisher takes events posted to /v1/events (a *producer.Producer).
	// Default nil: ingest answers 501.
	Publisher Publisher
	// Replayer retries deliveries and replays endpoints. Default nil: those
	// routes answer 501.
	Replayer Replayer
	// Catalog is the default application's catalog: endpoints and events
	// that name no registered application are held to it. Default: the
	// embedded schemas.
	Catalog *catalog.Catalog
	// Applications reads the registered applications and their catalogs.
	// Default nil: the Registry's, when it has them (a *registry.Store).
	Applications AppReader
	// Defaults is the default application's dialect: the dispatchers'
	// and retriers' flags (header prefix, User-Agent, retry schedule),
	// shown on the form and used by test pings. Zero fields: the built-in
	// defaults.
	Defaults endpoints.Dialect
	// Pinger sends test pings, signed as deliveries are. Default: a
	// delivery.Sender with AllowHTTP and AllowNetworks below and the
	// default header prefix.
	Pinger Pinger
	// OperatorKey may create tenants and their keys. Default "": no one may.
	OperatorKey string
	// AllowHTTP accepts http:// endpoint URLs (dev). Default false: https only.
	AllowHTTP bool
	// AllowNetworks are private or loopback ranges endpoint URLs may point
	// at (dev, tests). Default none.
	AllowNetworks []netip.Prefix
	// MaxBodyBytes caps a request body; more is answered 413. Default 1 MiB.
	MaxBodyBytes int64
	// RatePerSecond is each API key's sustained request rate; more is
	// answered 429 with Retry-After. It covers every route but, when
	// IngestRatePerSecond is set, POST /v1/events. Default 0: 20
	// (DefaultRatePerSecond); negative: no limit; at most
	// MaxRatePerSecond.
	RatePerSecond float64
	// RateBurst is how many requests a key may make at once before
	// RatePerSecond paces it. Default 0: twice RatePerSecond, at least 1;
	// at most MaxRateBurst.
	RateBurst int
	// IngestRatePerSecond gives each key a budget of its own for POST
	// /v1/events, so a service may publish more events per second than it
	// makes management calls (or fewer). Default 0: ingest counts against
	// the key's RatePerSecond and RateBurst, one budget for all its
	// requests; negative: no limit on ingest; at most MaxRatePerSecond.
	IngestRatePerSecond float64
	// IngestRateBurst is how many events a key may post at once before
	// IngestRatePerSecond paces it. Default 0: twice IngestRatePerSecond,
	// at least 1; at most MaxRateBurst. Only with IngestRatePerSecond.
	IngestRateBurst int
	// DefaultOverlap is how long a standard-webhooks endpoint's old secret
	// keeps signing after a rotation that names none. Default 24 h.
	DefaultOverlap time.Duration
	// Logger receives request and error logs; secrets and keys are never
	// logged. Default nil: silent.
	Logger *zap.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Server serves the API. Safe for concurrent use.
type Server struct {
	cfg Config
	log *zap.Logger
	// egress checks endpoint and token URLs by the sender's rules.
	egress *egress.Policy
	// limits pace each key's requests; ingestLimits its POST /v1/events,
	// the same buckets unless Config.IngestRatePerSecond is set.
	limits       *limiters
	ingestLimits *limiters
	page         *page
	handler      http.Handler
	// apps and appWriter are Config.Applications, or the Registry when
	// it holds applications; nil: only the default application.
	apps      AppReader
	appWriter AppWriter
	// run is the state of Run and Shutdown (serve.go).
	run runState
}

// New checks cfg and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		return nil, config.Errorf(ErrConfig, "Registry", "required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = DefaultRatePerSecond
	}
	cfg.RateBurst = burstFor(cfg.RateBurst, cfg.RatePerSecond)
	if cfg.DefaultOverlap <= 0 {
		cfg.DefaultOverlap = DefaultOverlap
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Catalog == nil {
		cat, err := catalog.Load("")
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		cfg.Catalog = cat
	}
	if cfg.Pinger == nil {
		cfg.Pinger = delivery.NewSender(delivery.SenderConfig{AllowHTTP: cfg.AllowHTTP, AllowNetworks: cfg.AllowNetworks})
	}
	apps := cfg.Applications
	if apps == nil {
		apps, _ = cfg.Registry.(AppReader)
	}
	appWriter, _ := cfg.Registry.(AppWriter)
	pg, err := newPage(cfg.AllowHTTP)
	if err != nil {
		return nil, fmt.Errorf("api: page: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, egress: egress.New(egress.Rules{AllowHTTP: cfg.AllowHTTP, AllowNetworks: cfg.AllowNetworks}), limits: newLimiters(cfg.RatePerSecond, cfg.RateBurst), page: pg,
		apps: apps, appWriter: appWriter}
	s.run.init()
	s.ingestLimits = s.limits
	if cfg.IngestRatePerSecond != 0 {
		s.ingestLimits = newLimiters(cfg.IngestRatePerSecond, burstFor(cfg.IngestRateBurst, cfg.IngestRatePerSecond))
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's routes, for embedding or tests.
func (s *Server) Handler() http.Handler { return s.handler }
