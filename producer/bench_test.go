package producer_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// BenchmarkPublish publishes catalog events, validated, from one
// producer to an in-process broker: go test -bench Publish -benchmem ./producer
func BenchmarkPublish(b *testing.B) {
	gen := demo.NewGenerator(1)
	events := make([]producer.Event, 4096)
	for i := range events {
		events[i] = gen.Next()
	}
	k := testbackend.NewFake(b)
	p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: "bench.events"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	// Warm the topic and connection outside the timer.
	if _, err := p.Publish(ctx, events[0]); err != nil {
		b.Fatal(err)
	}

	b.Run("async", func(b *testing.B) {
		var failed atomic.Int64
		done := func(_ producer.Published, err error) {
			if err != nil {
				failed.Add(1)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p.PublishAsync(ctx, events[i%len(events)], done)
		}
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d publishes failed", n)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("async-parallel", func(b *testing.B) {
		// Several goroutines publishing through the one producer, as a
		// service's request handlers do: validation uses every core.
		var failed atomic.Int64
		var next atomic.Int64
		done := func(_ producer.Published, err error) {
			if err != nil {
				failed.Add(1)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.PublishAsync(ctx, events[int(next.Add(1))%len(events)], done)
			}
		})
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d publishes failed", n)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("validate-encode", func(b *testing.B) {
		// The producer's CPU cost per event without Kafka: what the
		// broker-bound figure above is made of.
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := producer.Prepare(p, events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
