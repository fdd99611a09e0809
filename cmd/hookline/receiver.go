package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/kafka"
	"go.uber.org/zap"
)

// receiverFlags configure the sample webhook receiver: a stand-in for a
// customer's endpoint in the compose stack and in smoke tests.
type receiverFlags struct {
	listen, secret, secretFile, headerPrefix string
	failEvery                                int
	reportEvery                              time.Duration
}

func (f *receiverFlags) register(fs *flagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8090", "address the receiver serves on (POST any path: a delivery; GET /healthz; GET /stats)")
	fs.StringVar(&f.secret, "secret", "", "the endpoint's signing secret (prefer HOOKLINE_SECRET or --secret-file to the command line)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the signing secret")
	fs.StringVar(&f.headerPrefix, "header-prefix", "X-Hookline", "prefix of the signature headers the pipeline sends")
	fs.IntVar(&f.failEvery, "fail-every", 0, "answer 503 to the first attempt of every n-th delivery, to show retries (0: never)")
	fs.DurationVar(&f.reportEvery, "report-every", 10*time.Second, "how often to log what arrived (0: never)")
}

func (f *receiverFlags) key() ([]byte, error) {
	s := f.secret
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, badFlag("secret-file", "%v", err)
		}
		s = strings.TrimSpace(string(b))
	}
	if s == "" {
		return nil, badFlag("secret", "required: the secret of the endpoint that points here")
	}
	if f.failEvery < 0 {
		return nil, badFlag("fail-every", "want 0 or more, got %d", f.failEvery)
	}
	return []byte(s), nil
}

// receiverHandler serves deliveries to r, and its health and counters.
func receiverHandler(r *demo.Receiver) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Stats())
	})
	mux.Handle("POST /", r)
	return mux
}

func runReceiver(ctx context.Context, args []string) error {
	fs := newFlagSet("receiver", "--secret S | --secret-file FILE [--listen ADDR]")
	var f receiverFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	key, err := f.key()
	if err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	recv := demo.NewReceiver(key, f.headerPrefix)
	recv.FailEvery = f.failEvery
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return badFlag("listen", "%v", err)
	}
	srv := &http.Server{Handler: receiverHandler(recv), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("receiver listening", zap.String("addr", ln.Addr().String()))
	if f.reportEvery > 0 {
		go kafka.Every(ctx, f.reportEvery, func(context.Context) {
			s := recv.Stats()
			log.Info("received", zap.Int64("verified", s.Verified), zap.Int64("rejected", s.Rejected),
				zap.Int64("events", s.Events), zap.Int("unique events", s.UniqueEvents), zap.Int64("redeliveries", s.Redeliveries))
		})
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
