package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// TestDevTopicPrefixNamesEveryTopic runs the dev stack on its embedded
// broker with a prefix and lists what exists once it is up: the topics it
// created and those its dispatcher and retrier created or read.
func TestDevTopicPrefixNamesEveryTopic(t *testing.T) {
	c, err := parseDev(newFlagSet("dev", ""), []string{"--topic-prefix", "acme.", "--retry-schedule", "1m,10m",
		"--kafka-port", "0", "--data-dir", t.TempDir(), "--partitions", "1", "--shutdown-timeout", "5s"})
	if err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	c.ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devStack(ctx, c, zap.NewNop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev: %v", err)
		}
	}()
	var broker string
	select {
	case broker = <-addr:
	case err := <-done:
		t.Fatalf("dev stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev not ready within 30s")
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := []string{"acme.attempts", "acme.dead", "acme.events", "acme.invalid", "acme.retry.10m0s", "acme.retry.1m0s"}
	var names []string
	// The dispatcher and retrier join their groups (and create what they
	// write) after ready; give them that long.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		topics, err := adm.ListTopics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		names = topics.Names()
		groups, err := adm.ListGroups(context.Background())
		if err == nil && len(groups) >= 2 && slices.Equal(names, want) {
			break
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "acme.") && !strings.HasPrefix(n, "__") {
			t.Errorf("topic %s ignores --topic-prefix", n)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("topics %v, want %v", names, want)
	}
	if c.topics.Events != "acme.events" {
		t.Errorf("dev consumes and demo-produces to %s", c.topics.Events)
	}
}

func TestDevEventsTopicGivenWinsOverThePrefix(t *testing.T) {
	c, err := parseDev(newFlagSet("dev", ""), []string{"--topic-prefix", "acme.", "--events-topic", "domain.events"})
	if err != nil {
		t.Fatal(err)
	}
	if c.topics.Events != "domain.events" || c.topics.Dead != "acme.dead" {
		t.Fatalf("topics %+v", c.topics)
	}
}
