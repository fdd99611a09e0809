package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Benchmark figures (run with -benchtime 1x): 10,000 endpoints over 100
// tenants in the registry, 100 deliveries of 2 attempts each indexed for
// 500 of them (HOOKLINE_BENCH_ATTEMPTS=1000000: for 5,000), then 500
// requests a second for 10 s, alternating GET /v1/endpoints/{id} and GET
// /v1/endpoints/{id}/deliveries.
const (
	benchTenants      = 100
	benchEndpoints    = 10_000
	benchLogged       = 500
	benchDeliveries   = 100
	benchRate         = 500
	benchLoadDuration = 10 * time.Second
)

func BenchmarkGetEndpointAndListDeliveries(b *testing.B) {
	k := testbackend.NewFake(b)
	var rdb redis.UniversalClient
	if u := os.Getenv(testbackend.EnvRedis); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		rdb = redis.NewClient(opt)
	} else {
		rdb = testbackend.NewMiniredis(b)
	}
	backend := testbackend.Backend{Kafka: k, Redis: rdb, RedisPrefix: testbackend.UniqueName(b) + ":"}
	var reader *deliverylog.Reader
	e := newEnv(b, k, func(c *api.Config) { c.Deliveries = readerFunc(func() api.DeliveryReader { return reader }) })

	start := time.Now()
	keys, eps := benchRegister(b, e)
	b.Logf("registered %d endpoints for %d tenants in %s", len(eps), len(keys), time.Since(start).Round(time.Millisecond))

	nLogged := benchLogged
	if v := os.Getenv("HOOKLINE_BENCH_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2*benchDeliveries || n/(2*benchDeliveries) > len(eps) {
			b.Fatalf("HOOKLINE_BENCH_ATTEMPTS=%q: want %d to %d", v, 2*benchDeliveries, 2*benchDeliveries*len(eps))
		}
		nLogged = n / (2 * benchDeliveries)
	}
	logged := eps[:nLogged]
	start = time.Now()
	reader = logAttempts(b, backend, func(topic string) []*kgo.Record {
		var recs []*kgo.Record
		for _, ep := range logged {
			for range benchDeliveries {
				d := &delivery.Delivery{ID: delivery.NewID(), EndpointID: ep.ID, TenantID: ep.TenantID, Items: 1, EventType: "task.updated"}
				recs = append(recs, attempt(topic, d, 1, 500, delivery.Retry), attempt(topic, d, 2, 200, delivery.Delivered))
			}
		}
		return recs
	})
	records := nLogged * benchDeliveries * 2
	took := time.Since(start)
	b.Logf("produced and indexed %d attempt records in %s (%.0f records/s)", records, took.Round(time.Millisecond), float64(records)/took.Seconds())

	b.ResetTimer()
	for range b.N {
		get, list := benchLoad(b, e.http.URL, keys, logged)
		report(b, "GET /v1/endpoints/{id}", get)
		report(b, "GET /v1/endpoints/{id}/deliveries", list)
	}
}

func benchRegister(b *testing.B, e *env) (map[string]string, []*endpoints.Endpoint) {
	keys := make(map[string]string)
	var tenants []string
	for i := range benchTenants {
		id, key := e.tenant(fmt.Sprintf("bench-%d", i))
		keys[id] = key
		tenants = append(tenants, id)
	}
	eps := make([]*endpoints.Endpoint, benchEndpoints)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				ep := &endpoints.Endpoint{TenantID: tenants[i%benchTenants], Name: fmt.Sprintf("ep-%d", i),
					URL: "https://1.1.1.1/hook", Secrets: []string{"whsec_" + randomKey(b)}, EventTypes: []string{"task.*"}}
				got, err := e.store.Create(context.Background(), ep)
				if err != nil {
					b.Error(err)
					return
				}
				eps[i] = got
			}
		})
	}
	for i := range benchEndpoints {
		work <- i
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return keys, eps
}

// benchLoad sends requests open-loop at benchRate: each starts on its
// tick whether or not earlier ones finished, so slow answers show as
// latency rather than as a lower rate.
func benchLoad(b *testing.B, base string, keys map[string]string, eps []*endpoints.Endpoint) (get, list []time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	tick := time.NewTicker(time.Second / benchRate)
	defer tick.Stop()
	n := int(benchLoadDuration.Seconds()) * benchRate
	for i := range n {
		<-tick.C
		ep := eps[rand.IntN(len(eps))]
		path := "/v1/endpoints/" + ep.ID
		if i%2 == 1 {
			path += "/deliveries?limit=20"
		}
		wg.Go(func() {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+keys[ep.TenantID])
			t0 := time.Now()
			res, err := client.Do(req)
			d := time.Since(t0)
			if err != nil || res.StatusCode != 200 {
				b.Errorf("%s: %v %v", path, err, res)
				return
			}
			_ = res.Body.Close()
			mu.Lock()
			if i%2 == 1 {
				list = append(list, d)
			} else {
				get = append(get, d)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return get, list
}

func report(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatalf("%s: no successful requests", name)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("%-36s %d requests at %d req/s overall: p50 %s  p99 %s  max %s\n", name, len(lat), benchRate,
		q(0.50).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	unit := "get"
	if len(name) > 25 {
		unit = "list"
	}
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, unit+"-p99-ms")
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, unit+"-p50-ms")
}
