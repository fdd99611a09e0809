package deliverylog

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchShape is the benchmark's attempt log: endpoints spread over
// tenants, two attempts per delivery on average.
const (
	benchEndpoints = 10_000
	benchTenants   = 100
	benchParts     = 6
)

func benchRedis(b *testing.B) (redis.UniversalClient, string) {
	if u := os.Getenv(testbackend.EnvRedis); u != "" {
		opt, err := idempotency.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		opt.PoolSize = 64
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { _ = rdb.Close() })
		return rdb, testbackend.UniqueName(b) + ":"
	}
	return testbackend.NewMiniredis(b), "bench:"
}

// benchBatch builds records n..n+size of the log as the topic would hold
// them.
func benchBatch(base time.Time, n, size int, offsets []int64) []*kgo.Record {
	out := make([]*kgo.Record, 0, size)
	for i := n; i < n+size; i++ {
		d := i / 2
		ep := d % benchEndpoints
		e := Entry{
			DeliveryID: fmt.Sprintf("%024x", d), EndpointID: fmt.Sprintf("ep-%05d", ep),
			TenantID: fmt.Sprintf("t-%03d", ep%benchTenants), Attempt: 1 + i%2, Items: 1 + i%7,
			Status: 200, LatencyMS: int64(20 + i%400), Outcome: "delivered",
			At: base.Add(time.Duration(i) * time.Millisecond),
		}
		if i%2 == 0 {
			due := e.At.Add(time.Minute)
			e.Status, e.Outcome, e.Error, e.NextDue = 503, "retry", "HTTP 503", &due
			e.Response = `{"error":"service unavailable","retryable":true,"requestId":"6f1c2a9e"}`
		}
		v, _ := json.Marshal(e)
		p := int32(d % benchParts)
		out = append(out, &kgo.Record{Topic: "hookline.attempts", Partition: p, Offset: offsets[p], Value: v})
		offsets[p]++
	}
	return out
}

// BenchmarkIndexAndRead indexes the log into Redis (HOOKLINE_TEST_REDIS, or
// miniredis), then times the Reader alone and under a steady request rate.
// Records come pre-built, so the rate is the indexer's Redis side: parsing,
// one pipelined round trip per batch of 1000.
func BenchmarkIndexAndRead(b *testing.B) {
	total := 1_000_000
	if testing.Short() {
		total = 100_000
	}
	rdb, prefix := benchRedis(b)
	b.Cleanup(func() { dropPrefix(rdb, prefix) })
	cfg := Config{Brokers: []string{"unused:9092"}, Redis: rdb, Prefix: prefix, TTL: 2 * time.Hour}
	if err := cfg.withDefaults(); err != nil {
		b.Fatal(err)
	}
	ix := &Indexer{cfg: cfg, log: cfg.Logger}
	base := time.Now().UTC().Add(-time.Duration(total) * time.Millisecond)
	ctx := context.Background()
	offsets := make([]int64, benchParts)
	var spent time.Duration
	for n := 0; n < total; n += cfg.MaxBatch {
		recs := benchBatch(base, n, min(cfg.MaxBatch, total-n), offsets)
		start := time.Now()
		if err := ix.write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
	}
	if s := ix.Stats(); s.Applied != int64(total) {
		b.Fatalf("applied %d of %d", s.Applied, total)
	}
	rate := float64(total) / spent.Seconds()
	b.ReportMetric(rate, "records/s")
	fmt.Printf("indexed %d records over %d endpoints in %s: %.0f records/s\n", total, benchEndpoints, spent.Round(time.Millisecond), rate)

	r := NewReader(rdb, prefix)
	list := func() error {
		ep := rand.IntN(benchEndpoints)
		page, _, err := r.Deliveries(ctx, fmt.Sprintf("t-%03d", ep%benchTenants), fmt.Sprintf("ep-%05d", ep), "", 50)
		if err == nil && len(page) == 0 {
			err = fmt.Errorf("endpoint %d: no deliveries", ep)
		}
		return err
	}
	one := func() error {
		d := rand.IntN(total / 2)
		ep := d % benchEndpoints
		_, err := r.Delivery(ctx, fmt.Sprintf("t-%03d", ep%benchTenants), fmt.Sprintf("%024x", d))
		return err
	}
	for _, c := range []struct {
		name string
		f    func() error
	}{{"Deliveries (page of 50)", list}, {"Delivery (with history)", one}} {
		single := timeSequential(b, 2000, c.f)
		loaded := timeAtRate(b, 500, 4*time.Second, 32, c.f)
		fmt.Printf("%-24s single: p50 %s p99 %s · at 500 req/s, 32 concurrent: p50 %s p99 %s\n", c.name,
			pct(single, 0.5), pct(single, 0.99), pct(loaded, 0.5), pct(loaded, 0.99))
	}
}

func timeSequential(b *testing.B, n int, f func() error) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// timeAtRate issues requests at rate per second for d from workers
// goroutines; a request's latency counts from when it was due, so a
// backlog shows.
func timeAtRate(b *testing.B, rate int, d time.Duration, workers int, f func() error) []time.Duration {
	due := make(chan time.Time, rate)
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for at := range due {
				if err := f(); err != nil {
					b.Error(err)
				}
				mu.Lock()
				out = append(out, time.Since(at))
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range int(d.Seconds() * float64(rate)) {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(at))
		due <- at
	}
	close(due)
	wg.Wait()
	return out
}

func pct(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)].Round(10 * time.Microsecond)
}

// dropPrefix removes the benchmark's keys from a shared Redis.
func dropPrefix(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 10_000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}
