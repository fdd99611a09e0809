package registry

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// BenchmarkPropagation measures how long a change written by Store A
// takes to be in force in Store B (its own client, FetchMaxWait 50 ms):
// from the start of A's Update to B's Get returning the new value, over
// 200 sequential changes, on kfake and on real Kafka when configured.
//
//	go test -run xxx -bench Propagation -benchtime 1x ./internal/registry
func BenchmarkPropagation(b *testing.B) {
	backends := map[string]func(b *testing.B) testbackend.Kafka{"kfake": func(b *testing.B) testbackend.Kafka { return testbackend.NewFake(b) }}
	if brokers := os.Getenv(testbackend.EnvKafka); brokers != "" {
		backends["kafka"] = func(*testing.B) testbackend.Kafka {
			return testbackend.Kafka{Name: "kafka", Brokers: strings.Split(brokers, ",")}
		}
	}
	for _, name := range []string{"kfake", "kafka"} {
		newKafka, ok := backends[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			k := newKafka(b)
			topic := testbackend.UniqueName(b)
			writer, follower := openStore(b, k, topic, keyK1), openStore(b, k, topic, keyK1)
			mustCreate(b, writer, endpoint("e1", "t-a"))
			const changes = 200
			for range b.N {
				var write, visible []time.Duration
				for i := 1; i <= changes; i++ {
					t0 := time.Now()
					if _, err := writer.Update(context.Background(), "e1", func(e *endpoints.Endpoint) error { e.MaxItems = i; return nil }); err != nil {
						b.Fatal(err)
					}
					write = append(write, time.Since(t0))
					for follower.Get("e1").MaxItems != i {
						if time.Since(t0) > 10*time.Second {
							b.Fatalf("change %d not in the follower after 10 s", i)
						}
						time.Sleep(50 * time.Microsecond)
					}
					visible = append(visible, time.Since(t0))
				}
				p50, p99, mx := percentiles(visible)
				w50, w99, wmx := percentiles(write)
				b.ReportMetric(ms(p50), "p50-ms")
				b.ReportMetric(ms(p99), "p99-ms")
				b.ReportMetric(ms(mx), "max-ms")
				b.Logf("%s: %d changes: write→visible in B p50 %v p99 %v max %v; write acknowledged in A p50 %v p99 %v max %v",
					name, changes, p50, p99, mx, w50, w99, wmx)
			}
		})
	}
}

func percentiles(d []time.Duration) (p50, p99, maxD time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)*50/100], s[len(s)*99/100], s[len(s)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
