package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"go.uber.org/zap"
)

// writeEndpointsFile writes eps as an --endpoints file.
func writeEndpointsFile(t *testing.T, path string, eps ...*endpoints.Endpoint) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"endpoints": eps})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func singleEventEndpoint(id, url, secret string) *endpoints.Endpoint {
	return &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: url + "/hooks", Secrets: []string{secret}, MaxItems: 1}
}

// createViaAPI writes an endpoint into the registry the way the API's
// create does (Store.Create, no file mark).
func createViaAPI(t *testing.T, brokers []string, prefix, key string, e *endpoints.Endpoint) {
	t.Helper()
	kr, err := registry.ParseKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := registry.Open(context.Background(), registry.Config{Brokers: brokers, Topic: registryTopic(prefix), Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// startDispatcherCmd runs `hookline dispatcher args` until the returned
// stop (or the test's end), as an operator's (re)start would.
func startDispatcherCmd(t *testing.T, args []string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDispatcher(ctx, args) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dispatcher: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestEndpointsFileIsDeclarative restarts a dispatcher on a changed
// --endpoints file: the endpoint whose secret changed signs the next
// delivery with the new one (its receiver verifies only that), the one
// the file dropped receives nothing more, and the endpoint created
// through the API keeps receiving.
func TestEndpointsFileIsDeclarative(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		ctx := context.Background()
		const oldSecret, newSecret = "whsec_b2xkLXNlY3JldC1vZi10aGUta2VwdC1lbmRwb2ludA", "whsec_bmV3LXNlY3JldC1vZi10aGUta2VwdC1lbmRwb2ludA"
		prefix, key := testbackend.UniqueName(t)+".", newKey(t)
		kept := testbackend.NewReceiver(t, "X-Hookline", oldSecret)
		dropped := testbackend.NewReceiver(t, "X-Hookline", "whsec_dropped")
		viaAPI := testbackend.NewReceiver(t, "X-Hookline", "whsec_api")
		createViaAPI(t, b.Brokers, prefix, key, singleEventEndpoint("ep_api", viaAPI.URL(), "whsec_api"))
		file := filepath.Join(t.TempDir(), "endpoints.json")
		writeEndpointsFile(t, file, singleEventEndpoint("kept", kept.URL(), oldSecret), singleEventEndpoint("dropped", dropped.URL(), "whsec_dropped"))

		events := b.Topic(t, 1)
		prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: events})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = prod.Close(ctx) })
		publish := func(id string) {
			ev := producer.Event{Type: "task.created", TenantID: "t-1", Data: map[string]any{"task": map[string]any{"id": id, "title": "Ducts"}}}
			if _, err := prod.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		args := []string{"--brokers", strings.Join(b.Brokers, ","), "--redis-url", b.RedisURL, "--master-key", key,
			"--endpoints", file, "--topic-prefix", prefix, "--events-topic", events, "--group", prefix + "dispatchers",
			"--allow-http", "--allow-networks", "127.0.0.0/8", "--ops-addr", "", "--retry-schedule", "1m",
			"--session-timeout", "6s", "--shutdown-timeout", "10s", "--log-level", "error"}

		publish("t1")
		stop := startDispatcherCmd(t, args)
		kept.Delivered(t, 1, 30*time.Second)
		dropped.Delivered(t, 1, 30*time.Second)
		viaAPI.Delivered(t, 1, 30*time.Second) // the first load left the API's endpoint alone
		stop()

		writeEndpointsFile(t, file, singleEventEndpoint("kept", kept.URL(), newSecret))
		kept.SetSecret(newSecret)
		publish("t2")
		startDispatcherCmd(t, args)
		kept.Delivered(t, 2, 30*time.Second) // fails on a post signed with the old secret
		viaAPI.Delivered(t, 2, 30*time.Second)
		time.Sleep(time.Second) // a post to the dropped endpoint would go out with the others
		if posts, _ := dropped.Snapshot(); len(posts) != 1 {
			t.Fatalf("the endpoint removed from the file got %d posts, want only the one before the change", len(posts))
		}
		keptPosts, _ := kept.Snapshot()
		t.Logf("after the reload: kept got %d verified posts in all, the dropped endpoint nothing more, the API's endpoint its event", len(keptPosts))
	})
}

// TestEndpointsDryRun: --endpoints-dry-run prints a plain line per
// difference and a summary, exits 0 and writes nothing: the registry
// still holds what the file no longer says.
func TestEndpointsDryRun(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		prefix, key := testbackend.UniqueName(t)+".", newKey(t)
		kr, err := registry.ParseKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		createViaAPI(t, k.Brokers, prefix, key, singleEventEndpoint("ep_api", "https://api.example.com", "whsec_api"))
		file := filepath.Join(t.TempDir(), "endpoints.json")
		writeEndpointsFile(t, file, singleEventEndpoint("a", "https://a.example.com", "whsec_old-a"), singleEventEndpoint("b", "https://b.example.com", "whsec_b"))
		st, err := openRegistry(ctx, k.Brokers, prefix, kr, file, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		st.Close()

		writeEndpointsFile(t, file, singleEventEndpoint("a", "https://a.example.com", "whsec_new-a"), singleEventEndpoint("c", "https://c.example.com", "whsec_c"))
		topic := registryTopic(prefix)
		end := func() int64 {
			ends, err := k.Admin(t).ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := ends.Lookup(topic, 0)
			return o.Offset
		}
		before := end()
		args := []string{"--brokers", strings.Join(k.Brokers, ","), "--master-key", key, "--endpoints", file, "--topic-prefix", prefix, "--endpoints-dry-run", "--log-level", "error"}
		s, _, err := parseDispatcher(quietFlagSet("dispatcher"), args)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := endpointsDryRun(ctx, &out, s.endpoints, splitList(s.brokers), s.topicPrefix, kr, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
		want := "would delete endpoint b (tenant t-1), no longer in the file\n" +
			"would update endpoint a (tenant t-1): secrets\n" +
			"would create endpoint c (tenant t-1)\n" +
			"endpoints file " + file + ": would create 1, update 1, take over 0, delete 1; 0 unchanged; nothing written\n"
		if out.String() != want {
			t.Fatalf("dry run printed\n%s\nwant\n%s", out.String(), want)
		}
		for _, run := range []func(context.Context, []string) error{runDispatcher, runRetrier, runAPI} {
			if err := run(ctx, args); err != nil {
				t.Fatalf("a dry run failed: %v", err)
			}
		}
		if after := end(); after != before {
			t.Fatalf("the dry runs wrote %d records to the registry", after-before)
		}
		st, err = openRegistry(ctx, k.Brokers, prefix, kr, "", zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if a := st.Get("a"); a == nil || a.Secrets[0] != "whsec_old-a" || st.Get("b") == nil || st.Get("c") != nil || st.Get("ep_api") == nil {
			t.Fatal("the registry changed under a dry run")
		}
	})
}

// TestEndpointsDryRunWithoutARegistry: with no master key a dispatcher
// reads the file alone, and the dry run says so; without a file there is
// nothing to compare.
func TestEndpointsDryRunWithoutARegistry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "endpoints.json")
	writeEndpointsFile(t, file, singleEventEndpoint("a", "https://a.example.com", "whsec_a"))
	var out bytes.Buffer
	if err := endpointsDryRun(context.Background(), &out, file, nil, "hookline.", nil, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if want := "endpoints file " + file + ": no --master-key, so no registry: the file is read alone, a fixed set of 1 endpoint; nothing written\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
	if err := runDispatcher(context.Background(), []string{"--endpoints-dry-run"}); err == nil || !strings.Contains(err.Error(), "--endpoints-dry-run") {
		t.Fatalf("a dry run without --endpoints: %v", err)
	}
}
