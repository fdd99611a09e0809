package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
	"go.uber.org/zap"
)

// devDemo is the demo producer and the receivers of its applications. As
// a component it is the producer: Run publishes demo events until
// Shutdown, which flushes them. The receivers serve until devStack
// returns, after the dispatcher and the retrier that post to them have
// stopped.
type devDemo struct {
	url      string // base URL of the receivers
	apps     []*demoApp
	srv      *http.Server
	p        *producer.Producer
	rate     float64
	log      *zap.Logger
	failed   atomic.Int64
	stopOnce sync.Once
	stop     chan struct{} // closed by Shutdown
	done     chan struct{} // closed when Run returns
}

// demoApp is one demo application as dev runs it: its receiver, at its
// own path, holding deliveries to that application's rules.
type demoApp struct {
	*demo.App
	secret   string // signs its demo endpoints' deliveries
	path     string // of its receiver
	recv     *demo.Receiver
	turns    int // events it publishes in each round of demoRound
	produced atomic.Int64
}

func (a *demoApp) id() string { return a.Application.ID }

// demoSecrets sign the deliveries of each application's demo endpoints,
// one secret each, so that a delivery signed for one application's
// endpoint cannot verify at the other's receiver. Momentum Studio's is
// the secret the demo used before it had applications: endpoints an
// earlier run made keep verifying.
var demoSecrets = map[string]string{
	demo.MomentumStudioID: "whsec_aG9va2xpbmUtZGVtby1zZWNyZXQtMDEyMzQ1Njc=",
	demo.MomentumproID:    "mpro_bW9tZW50dW1wcm8tZGVtby1zZWNyZXQtNzY1NDMyMTA",
}

// demoTurns is how many events each application publishes per round:
// Momentum Studio's workspaces are the busier product.
var demoTurns = map[string]int{demo.MomentumStudioID: 3, demo.MomentumproID: 1}

// demoFailEvery fails the first attempt of every n-th delivery at each
// receiver, so the demo shows retries.
const demoFailEvery = 20

// startDemo starts the receivers, registers the applications through
// the API with the operator key, and makes the producer, whose events
// are held to their application's catalog (apps follows the registry);
// Run produces.
func startDemo(ctx context.Context, brokers string, c devConfig, api devAPI, apps producer.Catalogs, log *zap.Logger) (*devDemo, error) {
	defs, err := demo.Apps()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo receiver: %w", err)
	}
	d := &devDemo{url: "http://" + ln.Addr().String(), rate: c.demoRate, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	mux := http.NewServeMux()
	for _, def := range defs {
		a := &demoApp{App: def, secret: demoSecrets[def.Application.ID], path: "/" + def.Application.ID, turns: demoTurns[def.Application.ID]}
		a.recv = demo.NewRulesReceiver([]byte(a.secret), def.Rules)
		a.recv.FailEvery = demoFailEvery
		mux.Handle("POST "+a.path, a.recv)
		d.apps = append(d.apps, a)
	}
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()

	if err := d.registerApps(ctx, api.url, api.operator); err != nil {
		_ = d.srv.Close()
		return nil, fmt.Errorf("demo: register its applications through the API: %w", err)
	}
	d.p, err = producer.New(producer.Config{Brokers: []string{brokers}, Topic: c.topics.Events, Logger: log, Applications: apps})
	if err != nil {
		_ = d.srv.Close()
		return nil, err
	}
	return d, nil
}

// announce prints where the receivers are and what they hold deliveries to.
func (d *devDemo) announce(rate float64) {
	var parts []string
	for _, a := range d.apps {
		parts = append(parts, fmt.Sprintf("%s at %s%s", a.id(), d.url, a.path))
	}
	fmt.Printf("demo: receivers %s, each verifying its own application's dialect; producing %.0f events/s\n", strings.Join(parts, ", "), rate)
}

// Run publishes demo events at the demo rate until Shutdown, or until ctx
// ends (an abandon: the events not yet acknowledged may be lost). The
// applications take turns, each its demoTurns events per round.
func (d *devDemo) Run(ctx context.Context) error {
	defer close(d.done)
	seed := uint64(time.Now().UnixNano())
	var round []*demoApp
	srcs := map[*demoApp]demo.Source{}
	for i, a := range d.apps {
		srcs[a] = a.NewSource(seed + uint64(i))
		for range max(a.turns, 1) {
			round = append(round, a)
		}
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / d.rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-d.stop:
			return nil
		case <-tick.C:
		}
		a := round[n%len(round)]
		d.p.PublishAsync(ctx, srcs[a].Next(), func(_ producer.Published, err error) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					d.log.Warn("demo publish failed", zap.String("application", a.id()), zap.Error(err))
				}
				d.failed.Add(1)
				return
			}
			a.produced.Add(1)
		})
	}
}

// Shutdown stops publishing and flushes the events in flight within ctx.
func (d *devDemo) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	select {
	case <-d.done:
	case <-ctx.Done():
	}
	return d.p.Close(ctx)
}

// progress prints one summary line a second (every 5 s to a pipe) until
// ctx ends.
func (d *devDemo) progress(ctx context.Context, disp *dispatcher.Dispatcher, ret *retrier.Retrier) {
	tty := isTerminal(os.Stdout)
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	kafka.Every(ctx, every, func(context.Context) {
		ds, rs := disp.Stats(), ret.Stats()
		// Deliveries in the retry tiers: handed in by the dispatcher, not
		// yet delivered, dead-lettered or found done by the retrier.
		retrying := max(ds.Retried+ds.Deferred-rs.Delivered-rs.Dead-rs.AlreadyDone, 0)
		var produced int64
		apps := make([]appProgress, len(d.apps))
		for i, a := range d.apps {
			produced += a.produced.Load()
			apps[i] = appProgress{ID: a.id(), Stats: a.recv.Stats()}
		}
		line := progressLine(produced, apps, retrying, ds.Dead+rs.Dead)
		if tty {
			fmt.Printf("\r\033[K%s", line)
		} else {
			fmt.Println(line)
		}
	})
}

// appProgress is what one application's receiver counted.
type appProgress struct {
	ID    string
	Stats demo.Stats
}

// progressLine is the demo's summary, read by a person at a terminal:
// the events produced; per application the events its receiver took (an
// event matching two endpoints counts twice), in how many verified POSTs,
// and its bad signatures; then the deliveries waiting in the retry tiers
// and the dead letters. A stale timestamp, a malformed delivery or an
// event of another application is added to its application's part only
// when there is one: each means something is wrong.
func progressLine(produced int64, apps []appProgress, retrying, dead int64) string {
	parts := make([]string, len(apps))
	for i, a := range apps {
		s := a.Stats
		p := fmt.Sprintf("%s: %s events → %s POSTs, %s bad signatures", a.ID, grouped(s.Events), grouped(s.Verified), grouped(s.Rejected))
		for _, x := range []struct {
			n    int64
			what string
		}{{s.Stale, "stale timestamps"}, {s.Malformed, "malformed"}, {s.Foreign, "foreign events"}} {
			if x.n > 0 {
				p += fmt.Sprintf(", %s %s", grouped(x.n), x.what)
			}
		}
		parts[i] = p
	}
	return fmt.Sprintf("produced %s · %s · retrying %s · dead %s", grouped(produced), strings.Join(parts, " | "), grouped(retrying), grouped(dead))
}

// grouped writes n with a comma between each group of three digits.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
