package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
	"github.com/hookline/hookline/retrier"
)

// retrierFlags are the retrier's own settings. Dev runs a dispatcher too,
// so there they are spelled with a "retrier-" prefix.
type retrierFlags struct {
	group                    string
	concurrency, endpointCon int
	// names are the flags as registered, for the errors.
	groupName, concurrencyName, endpointConName string
	fs                                          *flagSet // where they were registered
}

func (f *retrierFlags) register(fs *flagSet, r role) {
	pre := ""
	if r == asDev {
		pre = "retrier-"
	}
	f.fs = fs
	f.groupName, f.concurrencyName, f.endpointConName = pre+"group", pre+"concurrency", pre+"endpoint-concurrency"
	fs.StringVar(&f.group, f.groupName, "hookline-retrier", "consumer group of the retriers")
	fs.IntVar(&f.concurrency, f.concurrencyName, retrier.DefaultConcurrency, "retry attempts in flight per retry-tier partition")
	fs.IntVar(&f.endpointCon, f.endpointConName, 0, "retry attempts one endpoint may have in flight, so a slow one cannot take every slot of a partition (0: 4, or --"+f.concurrencyName+" when lower)")
}

// settings names the flag behind each retrier.Config field; the bounds
// are the retrier's.
func (f *retrierFlags) settings() settings {
	return sharedSettings.with(settings{"Concurrency": f.concurrencyName, "EndpointConcurrency": f.endpointConName})
}

// check refuses what the retrier's Config would read as its defaults: an
// empty group, a concurrency of 0.
func (f *retrierFlags) check() error {
	if f.group == "" {
		return badFlag(f.groupName, "required")
	}
	return f.fs.refuseZero(f.concurrencyName)
}

func parseRetrier(fs *flagSet, args []string) (*sharedFlags, *retrierFlags, error) {
	var s sharedFlags
	var r retrierFlags
	s.register(fs, asRetrier)
	r.register(fs, asRetrier)
	return &s, &r, fs.parse(args)
}

func runRetrier(ctx context.Context, args []string) error {
	fs := newFlagSet("retrier", "--brokers LIST --redis-url URL (--master-key KEYS | --endpoints FILE)")
	s, rf, err := parseRetrier(fs, args)
	if err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	if s.endpointsDryRun {
		return memberDryRun(ctx, s, log)
	}
	x, closeDeps, err := memberDeps(ctx, s, log)
	if err != nil {
		return err
	}
	defer closeDeps()
	m := x.metrics
	cfg, err := buildRetrier(s, rf, x)
	if err != nil {
		return err
	}
	r, err := retrier.New(cfg)
	if err != nil {
		return err
	}
	closeLag, err := watchLag(m, cfg.Brokers, nil)
	if err != nil {
		return err
	}
	defer closeLag()
	defer startOps(s.ops, m, r.Ready, log).Stop()
	sup := supervisor(s.drain, log, "retrier: draining (up to %s)")
	sup.Start("retrier", r)
	return sup.Wait(ctx)
}

func runReplay(ctx context.Context, args []string) error {
	fs := newFlagSet("replay", "--delivery ID | --endpoint ID --since T [--until T] [--rate N]")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	schedule := fs.String("retry-schedule", retry.DefaultSchedule, "delays of the retry tiers (names the topics)")
	prefix := fs.String("topic-prefix", topics.DefaultPrefix, "prefix of hookline's topics")
	id := fs.String("delivery", "", "re-enqueue this delivery now (Retry now)")
	ep := fs.String("endpoint", "", "re-enqueue this endpoint's dead letters")
	since := fs.String("since", "", "dead letters written at or after this time (RFC 3339, or a duration ago like 24h)")
	until := fs.String("until", "", "and before this time (default now)")
	rate := fs.Float64("rate", 10, "deliveries enqueued per second")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.refuseZero("topic-prefix"); err != nil {
		return err
	}
	policy, err := retryPolicy(*schedule, *prefix)
	if err != nil {
		return err
	}
	rp := &retrier.Replayer{Brokers: splitList(*brokers), Topics: kafka.Layout{Prefix: *prefix}.Topics(), Retry: policy}
	switch {
	case *id != "" && *ep == "":
		d, err := rp.One(ctx, *id)
		if err != nil {
			return err
		}
		fmt.Printf("re-enqueued delivery %s (endpoint %s, %d events, %d attempts so far): due now\n", d.ID, d.EndpointID, d.Items, d.Attempt)
		return nil
	case *ep != "" && *id == "":
	default:
		return errors.New("give --delivery ID, or --endpoint ID with --since")
	}
	from, err := parseWhen(*since, "since")
	if err != nil {
		return err
	}
	if from.IsZero() {
		return badFlag("since", "required with --endpoint")
	}
	to, err := parseWhen(*until, "until")
	if err != nil {
		return err
	}
	if *rate <= 0 {
		return badFlag("rate", "must be positive, got %v", *rate)
	}
	start := time.Now()
	n, err := rp.Bulk(ctx, *ep, from, to, *rate, func(done, total int) {
		fmt.Fprintf(os.Stderr, "\rreplayed %d/%d", done, total)
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("re-enqueued %d dead letters of %s in %s; deliveries that already got a 2xx are skipped by the retrier\n", n, *ep, time.Since(start).Round(time.Millisecond))
	return nil
}

// parseWhen reads RFC 3339 or a duration before now; "" is the zero time.
func parseWhen(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badFlag(flag, "want RFC 3339 (2026-11-22T10:00:00Z) or a duration ago (24h), got %q", s)
	}
	return t, nil
}
