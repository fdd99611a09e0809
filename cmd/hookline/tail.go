package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runTail(ctx context.Context, args []string) error {
	fs := newFlagSet("tail", "[--topic T] [--from start|end] [--count N]")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	topic := fs.String("topic", topics.DefaultEvents, "topic to read")
	from := fs.String("from", "start", "where to begin: start or end")
	count := fs.Int("count", 0, "stop after this many records (0: follow until Ctrl-C)")
	idle := fs.Duration("idle", 0, "stop once no record of --topic arrived for this long, counted from the start or the last record read (0: never)")
	var kf kafkaFlags
	kf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	offset := kgo.NewOffset().AtStart()
	switch *from {
	case "start":
	case "end":
		offset = kgo.NewOffset().AtEnd()
	default:
		return badFlag("from", "want start or end, got %q", *from)
	}
	if err := kf.connect(ctx, splitList(*brokers), log); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(splitList(*brokers)...), kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(offset)}, kf.opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	n := 0
	// The deadline moves only when a record arrives: a poll can end with
	// none (an error-only or empty fetch), and restarting the wait on each
	// poll would let those keep tail running past --idle.
	last := time.Now()
	for *count == 0 || n < *count {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if *idle > 0 {
			pctx, cancel = context.WithDeadline(ctx, last.Add(*idle))
		}
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if fetches.NumRecords() > 0 {
			last = time.Now()
		} else if *idle > 0 && time.Since(last) >= *idle {
			fmt.Printf("-- no record for %s; %d read\n", *idle, n)
			return nil
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch %s: %w", *topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			var h []string
			for _, x := range r.Headers {
				h = append(h, x.Key+"="+string(x.Value))
			}
			fmt.Printf("%s p%d@%d %s key=%s headers=[%s]\n%s\n", *topic, r.Partition, r.Offset,
				r.Timestamp.UTC().Format(time.RFC3339), r.Key, strings.Join(h, " "), r.Value)
			if n++; *count > 0 && n >= *count {
				break
			}
		}
	}
	return nil
}
