// Command benchrig runs one dispatcher the way `hookline dispatcher` does
// (same defaults, same client options) and writes a CPU profile of the whole
// process, so BenchmarkDispatch can profile the dispatcher in a process of
// its own: heap, GC and scheduler included, broker and receiver excluded.
// It takes the subset of the dispatcher command's flags the benchmark uses.
//
//	benchrig --cpuprofile F --brokers B --events-topic T --group G \
//	    --endpoints FILE --redis-url URL --allow-networks 127.0.0.0/8
//
// SIGTERM or SIGINT drains (as the real command does), then the profile is
// written.
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
	"github.com/hookline/hookline/internal/kafka"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "benchrig: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	topic := flag.String("events-topic", "hookline.events", "events topic to consume")
	group := flag.String("group", "hookline-dispatcher", "consumer group")
	epFile := flag.String("endpoints", "", "JSON file of endpoints")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/0", "Redis holding settle state")
	allowNets := flag.String("allow-networks", "", "CIDRs endpoints may resolve to, comma-separated")
	flag.Parse()

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
	opt, err := redis.ParseURL(*redisURL)
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

	// The defaults of `hookline dispatcher` (cmd/hookline/dispatcher.go).
	d, err := dispatcher.New(dispatcher.Config{
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(45 * time.Second)},
		Brokers:   strings.Split(*brokers, ","), Group: *group,
		Topics:    kafka.Topics{Events: *topic, Retry: []time.Duration{time.Minute}},
		Endpoints: eps, Redis: rdb, Logger: zap.NewNop(),
		Sender:           delivery.SenderConfig{AllowHTTP: true, AllowNetworks: nets},
		MaxBufferedBytes: 256 << 20, MaxQueuedPerEndpoint: 4, Concurrency: 1,
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
