package main

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/dev"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTailIdleWhileOtherTopicsAreWritten produces to another topic of the
// same broker the whole time; tail of a quiet topic still stops on --idle.
func TestTailIdleWhileOtherTopicsAreWritten(t *testing.T) {
	emb, err := dev.StartKafka(t.TempDir(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "quiet", Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ctx.Err() == nil {
			cl.ProduceSync(ctx, &kgo.Record{Topic: "busy", Value: []byte("x")})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- runTail(ctx, []string{"--brokers", emb.Addr, "--topic", "quiet", "--idle", "1500ms"}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 1500*time.Millisecond {
			t.Errorf("stopped after %s, before --idle", el)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("tail still running 15s into --idle 1500ms")
	}
}
