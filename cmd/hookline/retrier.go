package main

import (
	"context"

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
	if err := s.kafka.connect(ctx, splitList(s.brokers), log); err != nil {
		return err
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
	closeLag, err := watchLag(m, cfg.Brokers, s.kafka.opts)
	if err != nil {
		return err
	}
	defer closeLag()
	defer startOps(s.ops, m, r.Ready, log).Stop()
	sup := supervisor(s.drain, log, "retrier: draining (up to %s)")
	sup.Start("retrier", r)
	return sup.Wait(ctx)
}
