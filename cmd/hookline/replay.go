package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
)

// runReplay is `hookline replay`: Retry now of one delivery, found where
// the attempt log's index says its newest record is, or a bulk replay of
// an endpoint's dead letters at a rate.
func runReplay(ctx context.Context, args []string) error {
	fs := newFlagSet("replay", "--delivery ID --tenant T | --endpoint ID --since T [--until T] [--rate N]")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	var rf redisFlags
	rf.register(fs, "redis://127.0.0.1:6379/0", "Redis holding the attempt log's index (where --delivery's newest record is)")
	schedule := fs.String("retry-schedule", retry.DefaultSchedule, "delays of the retry tiers (names the topics)")
	prefix := fs.String("topic-prefix", topics.DefaultPrefix, "prefix of hookline's topics")
	id := fs.String("delivery", "", "send this delivery again now (Retry now)")
	tenant := fs.String("tenant", "", "the tenant of --delivery")
	ep := fs.String("endpoint", "", "send this endpoint's dead letters again")
	since := fs.String("since", "", "dead letters written at or after this time (RFC 3339, or a duration ago like 24h)")
	until := fs.String("until", "", "and before this time (default now)")
	rate := fs.Float64("rate", 10, "deliveries sent per second")
	var kf kafkaFlags
	kf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	if err := kf.connect(ctx, splitList(*brokers), log); err != nil {
		return err
	}
	policy, err := retryPolicy(*schedule, *prefix)
	if err != nil {
		return err
	}
	rp := &replay.Replayer{Brokers: splitList(*brokers), Topics: kafka.Layout{Prefix: *prefix}.Topics(), Retry: policy, KafkaOpts: kf.opts}
	switch {
	case *id != "" && *ep == "":
		if *tenant == "" {
			return badFlag("tenant", "required with --delivery: the attempt log's index is kept per tenant")
		}
		rdb, err := rf.client()
		if err != nil {
			return err
		}
		defer rdb.Close()
		rp.Log = deliverylog.NewReader(rdb, "")
		d, err := rp.One(ctx, *tenant, *id)
		if err != nil {
			return err
		}
		fmt.Printf("re-enqueued delivery %s (endpoint %s, %d events, %d attempts so far) to %s: due now\n", d.ID, d.EndpointID, d.Items, d.Attempt, policy.Lane())
		return nil
	case *ep != "" && *id == "":
	default:
		return errors.New("give --delivery ID with --tenant, or --endpoint ID with --since")
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
