// Command benchrig holds the processes BenchmarkDispatch runs besides the
// hookline binary, so that every sender it compares is a process of its
// own (heap, GC and scheduler included) posting to the receiver in the test
// binary:
//
//	benchrig ceiling --url U --secret S --items N --events FILE [--inflight K]
//
// is the delivery-only ceiling: a minimal signer that POSTs the events of
// FILE in groups of N (a JSON array per group; the envelope alone when N is
// 1), signed like the dispatcher's default scheme, with the same headers.
// K senders (default 1) each take the next group in turn and post it over
// a keep-alive connection of their own, so K requests are in flight, as
// the dispatcher keeps up to its per-endpoint concurrency. It loads FILE,
// prints "ready", waits for a line on stdin, posts everything, prints
// "done" and waits for stdin to close, so the caller can time exactly the
// posting and read the process's CPU time before it exits.
//
//	benchrig dispatcher --cpuprofile F --brokers B --events-topic T --group G \
//	    --endpoints FILE --redis-url URL --allow-networks 127.0.0.0/8 [--concurrency K]
//
// runs one dispatcher the way `hookline dispatcher` does (same defaults,
// same client options) and writes a CPU profile of the whole process.
// SIGTERM or SIGINT drains, then the profile is written.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrig ceiling|dispatcher [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ceiling":
		err = runCeiling(os.Args[2:])
	case "dispatcher":
		err = runDispatcher(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrig %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func runDispatcher(args []string) error {
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	topic := fs.String("events-topic", topics.DefaultEvents, "events topic to consume")
	group := fs.String("group", "hookline-dispatcher", "consumer group")
	epFile := fs.String("endpoints", "", "JSON file of endpoints")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis holding settle state")
	allowNets := fs.String("allow-networks", "", "CIDRs endpoints may resolve to, comma-separated")
	concurrency := fs.Int("concurrency", 1, "deliveries in flight per endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var nets []netip.Prefix
	for _, s := range strings.Split(*allowNets, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("--allow-networks: %w", err)
		}
		nets = append(nets, p)
	}
	eps, err := endpoints.LoadFile(*epFile)
	if err != nil {
		return err
	}
	opt, err := idempotency.ParseURL(*redisURL)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// `hookline dispatcher` with its defaults (cmd/hookline/pipeline.go's
	// buildDispatcher, which package main keeps out of reach): the zero
	// limits are the dispatcher package's defaults, which are also its
	// flags' defaults, so only the group options are spelled out here.
	member := kafka.Group{}.WithDefaults()
	d, err := dispatcher.New(dispatcher.Config{
		KafkaOpts: member.Opts(), RevokeTimeout: min(member.RevokeTimeout(), 30*time.Second),
		Brokers: strings.Split(*brokers, ","), Group: *group,
		Topics: kafka.Topics{Events: *topic}, Retry: retry.Policy{Delays: []time.Duration{time.Minute}},
		Endpoints: eps, Redis: rdb, Logger: zap.NewNop(), Concurrency: *concurrency,
		Sender: delivery.SenderConfig{AllowHTTP: true, AllowNetworks: nets},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(context.Background()) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		return err
	}
	return <-errc
}
