// Command benchrig holds the processes BenchmarkDispatch runs besides the
// hookline binary, so that every sender it compares is a process of its
// own (heap, GC and scheduler included) posting to the receiver in the test
// binary:
//
//	benchrig ceiling --url U --secret S --items N --events FILE
//
// is the delivery-only ceiling: a minimal signer that POSTs the events of
// FILE in groups of N (a JSON array per group; the envelope alone when N is
// 1), signed like the dispatcher's default scheme, with the same headers,
// one request at a time over one keep-alive connection. It loads FILE, prints
// "ready", waits for a line on stdin, posts everything, prints "done" and
// waits for stdin to close, so the caller can time exactly the posting and
// read the process's CPU time before it exits.
//
//	benchrig dispatcher --cpuprofile F --brokers B --events-topic T --group G \
//	    --endpoints FILE --redis-url URL --allow-networks 127.0.0.0/8
//
// runs one dispatcher the way `hookline dispatcher` does (same defaults,
// same client options) and writes a CPU profile of the whole process.
// SIGTERM or SIGINT drains, then the profile is written.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/signing"
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

// readEvents reads an events file: per event, a uvarint length and the
// event type, then a uvarint length and the record value.
func readEvents(path string) (types []string, values [][]byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	interned := map[string]string{}
	next := func() ([]byte, error) {
		n, used := binary.Uvarint(raw)
		if used <= 0 || uint64(len(raw)-used) < n {
			return nil, errors.New("truncated events file")
		}
		b := raw[used : used+int(n)]
		raw = raw[used+int(n):]
		return b, nil
	}
	for len(raw) > 0 {
		t, err := next()
		if err != nil {
			return nil, nil, err
		}
		v, err := next()
		if err != nil {
			return nil, nil, err
		}
		typ, ok := interned[string(t)]
		if !ok {
			typ = string(t)
			interned[typ] = typ
		}
		types = append(types, typ)
		values = append(values, v)
	}
	return types, values, nil
}

func runCeiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	url := fs.String("url", "", "endpoint URL")
	secret := fs.String("secret", "", "signing secret")
	items := fs.Int("items", 1, "events per request")
	path := fs.String("events", "", "events file")
	prefix := fs.String("header-prefix", signing.DefaultPrefix, "prefix of the signature headers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *secret == "" || *path == "" || *items < 1 {
		return errors.New("--url, --secret, --events and a positive --items are required")
	}
	types, values, err := readEvents(*path)
	if err != nil {
		return err
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start line: %w", err)
	}

	h := signing.HeadersFor(*prefix)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, DisableCompression: true}}
	key := []byte(*secret)
	var body []byte
	var idRaw [12]byte
	for i := 0; i < len(values); i += *items {
		j := min(i+*items, len(values))
		typ := types[i]
		if *items == 1 {
			body = values[i]
		} else {
			body = append(body[:0], '[')
			for k := i; k < j; k++ {
				if k > i {
					body = append(body, ',')
				}
				body = append(body, values[k]...)
				if types[k] != typ {
					typ = "batch"
				}
			}
			body = append(body, ']')
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		_, _ = rand.Read(idRaw[:])
		req, err := http.NewRequest(http.MethodPost, *url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", delivery.DefaultUserAgent)
		req.Header.Set(h.Event, typ)
		req.Header.Set(h.Delivery, hex.EncodeToString(idRaw[:]))
		req.Header.Set(h.Signature, sig)
		req.Header.Set(h.Timestamp, time.Now().UTC().Format(signing.TimestampLayout))
		if *items > 1 {
			req.Header.Set(h.BatchSize, strconv.Itoa(j-i))
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("request %d: HTTP %d", i / *items, resp.StatusCode)
		}
	}
	fmt.Println("done")
	_, _ = io.Copy(io.Discard, in) // until the caller closes stdin
	return nil
}

func runDispatcher(args []string) error {
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	topic := fs.String("events-topic", "hookline.events", "events topic to consume")
	group := fs.String("group", "hookline-dispatcher", "consumer group")
	epFile := fs.String("endpoints", "", "JSON file of endpoints")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis holding settle state")
	allowNets := fs.String("allow-networks", "", "CIDRs endpoints may resolve to, comma-separated")
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
		Endpoints: eps, Redis: rdb, Logger: zap.NewNop(),
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
