package dispatcher_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestGoneDisablesInTheRegistryForEveryProcess: a 410 is a registry write.
// Another running process sees the endpoint disabled within a second, a
// process started afterwards reads it disabled from the log, and a
// dispatcher running on that one sends the endpoint nothing more.
func TestGoneDisablesInTheRegistryForEveryProcess(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		kr, err := registry.ParseKeyring(base64.StdEncoding.EncodeToString(key))
		if err != nil {
			t.Fatal(err)
		}
		topic := testbackend.UniqueName(t) + ".registry"
		open := func() *registry.Store {
			st, err := registry.Open(context.Background(), registry.Config{Brokers: b.Brokers, Topic: topic, Keyring: kr})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(st.Close)
			return st
		}
		stA, stB := open(), open()
		gone, ok := newSink(t, "X-Hookline"), newSink(t, "X-Hookline")
		gone.SetStatus(func(int) int { return 410 })
		for _, e := range []*endpoints.Endpoint{
			endpointFor("gone", "t-1", gone, func(e *endpoints.Endpoint) { e.MaxItems = 1 }),
			endpointFor("ok", "t-1", ok, func(e *endpoints.Endpoint) { e.MaxItems = 1 }),
		} {
			if _, err := stA.Create(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		f := newFixture(t, b, nil, func(c *dispatcher.Config) { c.Endpoints = stA })
		f.publish(t, taskEvent("t-1", "a", "x"))
		f.read(t, f.topics.Dead, 1)
		sawDead := time.Now()
		for stB.Get("gone") == nil || !stB.Get("gone").Disabled {
			if time.Since(sawDead) > time.Second {
				t.Fatalf("another process still sees the endpoint active 1s after its 410: %+v", stB.Get("gone"))
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("another process saw the disable %s after the dead letter was read", time.Since(sawDead).Round(time.Millisecond))

		f.kill()
		stC := open() // a process started after the 410
		if e := stC.Get("gone"); e == nil || !e.Disabled || !strings.Contains(e.DisabledReason, "410") {
			t.Fatalf("a restarted process reads %+v, want disabled by the 410", e)
		}
		f.cfg.Endpoints = stC
		f.start(t)
		f.publish(t, taskEvent("t-1", "b", "y"), taskEvent("t-1", "c", "z"))
		ok.Delivered(t, 3, 20*time.Second)
		if p, _ := gone.Snapshot(); len(p) != 1 {
			t.Fatalf("the disabled endpoint got %d posts, want only the one that answered 410", len(p))
		}
	})
}
