package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// DefaultOpsAddr is where the ops endpoints listen unless told otherwise;
// in a container, set 0.0.0.0:9090 so probes and scrapers reach it.
const DefaultOpsAddr = "127.0.0.1:9090"

// opsFlags configure the ops endpoints every long-running command serves.
type opsFlags struct {
	addr string
}

func (f *opsFlags) register(fs *flagSet) {
	fs.StringVar(&f.addr, "ops-addr", DefaultOpsAddr, "address of GET /metrics (Prometheus), /healthz (alive) and /readyz (joined the group, Redis and Kafka reachable); empty: none")
}

func (f *opsFlags) check() error {
	if f.addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return badFlag("ops-addr", "want host:port, got %q", f.addr)
	}
	return nil
}

// readyFunc says why the process cannot do its work now; nil: ready.
type readyFunc func(ctx context.Context) error

// allReady is ready when every check is, and otherwise says which is not.
func allReady(checks ...readyFunc) readyFunc {
	return func(ctx context.Context) error {
		for _, c := range checks {
			if err := c(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// readyTimeout bounds one /readyz check: a probe must answer before its
// own timeout (Kubernetes: 1 s by default) would call it a failure.
const readyTimeout = 900 * time.Millisecond

// opsServer serves the ops endpoints.
type opsServer struct {
	srv *http.Server
	ln  net.Listener
}

// startOps serves /metrics from m, /healthz, and /readyz answered by
// ready, on f's address, until Stop: call it once the command has
// drained, so that probes and scrapes see the drain. With no address it
// serves nothing. An address it cannot listen on is logged, not returned:
// the ops endpoints must not stop deliveries (a probe then fails, which
// shows it).
func startOps(f opsFlags, m *metrics.Metrics, ready readyFunc, log *zap.Logger) *opsServer {
	o := &opsServer{}
	if f.addr == "" {
		return o
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		log.Error("ops endpoints unavailable: /metrics, /healthz and /readyz are not served", zap.String("addr", f.addr), zap.Error(err))
		return o
	}
	o.ln = ln
	o.srv = &http.Server{Handler: opsHandler(m, ready), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops endpoints stopped", zap.Error(err))
		}
	}()
	log.Info("ops endpoints", zap.String("addr", ln.Addr().String()))
	return o
}

// Addr is the address served, or "" when none is.
func (o *opsServer) Addr() string {
	if o.ln == nil {
		return ""
	}
	return o.ln.Addr().String()
}

// Stop closes the listener and the connections of finished scrapes; a
// request still running gets a second.
func (o *opsServer) Stop() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = o.srv.Shutdown(ctx)
}

func opsHandler(m *metrics.Metrics, ready readyFunc) http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if ready != nil {
			if err := ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// watchLag has m report the consumer lag of its groups (and of extra),
// asked of brokers through a client of its own. The returned func closes
// that client.
func watchLag(m *metrics.Metrics, brokers []string, opts []kgo.Opt, extra ...string) (func(), error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for consumer lag: %w", err)
	}
	m.WatchLag(kadm.NewClient(cl), 0, extra...)
	return cl.Close, nil
}
