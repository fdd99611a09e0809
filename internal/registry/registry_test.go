package registry

import (
	"context"
	"errors"
	"github.com/hookline/hookline/internal/applications"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/endpoints/endpointstest"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestConformance: the Store passes the suite every registry passes,
// seeded through its own writes, and also when another Store wrote them.
func TestConformance(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		t.Run("own writes", func(t *testing.T) {
			endpointstest.Run(t, func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry {
				s := openStore(t, k, testbackend.UniqueName(t), keyK1)
				for _, e := range eps {
					mustCreate(t, s, e)
				}
				return s
			}, endpointstest.Options{Eventually: eventually, Dialect: putDialect})
		})
		t.Run("written by another store", func(t *testing.T) {
			endpointstest.Run(t, func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry {
				topic := testbackend.UniqueName(t)
				a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
				for _, e := range eps {
					mustCreate(t, a, e)
				}
				eventually(t, func() bool { return len(table(b)) == len(eps) }, "the second store holds the seeded endpoints")
				return b
			}, endpointstest.Options{Eventually: eventually, Dialect: putDialect})
		})
	})
}

// putDialect registers application app with dialect d and one type.
func putDialect(t *testing.T, r endpoints.Registry, app string, d endpoints.Dialect) {
	a := &applications.Application{ID: app, Name: app, Dialect: d,
		EventTypes: []applications.EventType{{Name: "thing.happened", Version: 1, Schema: []byte(`{"type":"object"}`)}}}
	if _, _, err := r.(*Store).PutApplication(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// TestDisableReachesEveryStore: a 410's Disable is a registry write, seen
// by a running Store and by one opened afterwards (a fresh process).
func TestDisableReachesEveryStore(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		mustCreate(t, a, endpoint("e1", "t-a"))
		mustCreate(t, a, endpoint("e2", "t-a"))
		eventually(t, func() bool { return b.Get("e1") != nil }, "b sees e1")
		held := b.Get("e1")
		const reason = "endpoint answered 410 Gone"
		if err := b.Disable(context.Background(), "e1", reason); err != nil {
			t.Fatal(err)
		}
		if e := b.Get("e1"); e == nil || !e.Disabled || e.DisabledReason != reason {
			t.Fatalf("the disabling store reads %+v right after Disable", e)
		}
		eventually(t, func() bool { e := a.Get("e1"); return e != nil && e.Disabled && e.DisabledReason == reason }, "a sees e1 disabled")
		if held.Disabled {
			t.Fatal("a value read before Disable changed under its reader")
		}
		c := openStore(t, k, topic, keyK1)
		if e := c.Get("e1"); e == nil || !e.Disabled || e.DisabledReason != reason {
			t.Fatalf("a store opened afterwards reads e1 as %+v", e)
		}
		if e := c.Get("e2"); e == nil || e.Disabled {
			t.Fatalf("a store opened afterwards reads e2 as %+v", e)
		}
		// Disabling again keeps the first reason and writes nothing.
		if err := a.Disable(context.Background(), "e1", "inactivated by user"); err != nil {
			t.Fatal(err)
		}
		if e := a.Get("e1"); e.DisabledReason != reason {
			t.Fatalf("reason after a second Disable: %q", e.DisabledReason)
		}
	})
}

// TestCrudAndReadYourWrites: each write is visible to its own Store on
// return, with the errors the API maps.
func TestCrudAndReadYourWrites(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		s := openStore(t, k, testbackend.UniqueName(t), keyK1)
		in := endpoint("", "t-a")
		in.Name, in.Application = "orders", "billing"
		e, err := s.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || e.CreatedAt.IsZero() || e.UpdatedAt != e.CreatedAt || s.Get(e.ID) != e || in.ID != "" {
			t.Fatalf("created %+v (input now %+v)", e, in)
		}
		dup := endpoint("", "t-a")
		dup.Name = "orders"
		if _, err := s.Create(ctx, dup); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("second endpoint named orders: %v, want ErrNameTaken", err)
		}
		other := endpoint("", "t-b")
		other.Name = "orders"
		if _, err := s.Create(ctx, other); err != nil {
			t.Fatalf("the same name in another tenant: %v", err)
		}
		if _, err := s.Create(ctx, endpoint(e.ID, "t-a")); !errors.Is(err, ErrExists) {
			t.Fatalf("an existing id: %v, want ErrExists", err)
		}
		bad := endpoint("x/y", "t-a")
		if _, err := s.Create(ctx, bad); !errors.Is(err, endpoints.ErrInvalid) {
			t.Fatalf("an id with a slash: %v, want ErrInvalid", err)
		}
		u, err := s.Update(ctx, e.ID, func(e *endpoints.Endpoint) error { e.URL = "https://example.com/v2"; e.Name = "orders-v2"; return nil })
		if err != nil || u.URL != "https://example.com/v2" || s.Get(e.ID).Name != "orders-v2" || !u.UpdatedAt.After(e.UpdatedAt) || u.CreatedAt != e.CreatedAt {
			t.Fatalf("update: %+v, %v", u, err)
		}
		dup.Name = "orders" // free again after the rename
		if _, err := s.Create(ctx, dup); err != nil {
			t.Fatalf("the released name: %v", err)
		}
		if _, err := s.Update(ctx, e.ID, func(e *endpoints.Endpoint) error { e.TenantID = "t-b"; return nil }); !errors.Is(err, endpoints.ErrInvalid) {
			t.Fatalf("moving tenants: %v, want ErrInvalid", err)
		}
		if _, err := s.Update(ctx, e.ID, func(e *endpoints.Endpoint) error { e.Name = "orders"; return nil }); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("renaming onto a taken name: %v, want ErrNameTaken", err)
		}
		boom := errors.New("boom")
		if _, err := s.Update(ctx, e.ID, func(*endpoints.Endpoint) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("change's error: %v", err)
		}
		if err := s.Delete(ctx, e.ID); err != nil || s.Get(e.ID) != nil {
			t.Fatalf("delete: %v, then Get = %+v", err, s.Get(e.ID))
		}
		if err := s.Delete(ctx, e.ID); !errors.Is(err, endpoints.ErrNotFound) {
			t.Fatalf("delete again: %v", err)
		}
		if _, err := s.Update(ctx, e.ID, func(*endpoints.Endpoint) error { return nil }); !errors.Is(err, endpoints.ErrNotFound) {
			t.Fatalf("update of a deleted endpoint: %v", err)
		}
		if got := len(s.ForTenant("t-a")); got != 1 {
			t.Fatalf("t-a holds %d endpoints, want 1", got)
		}
	})
}

// TestCloseStopsFollower: Close ends the follower and any write still
// watched for; writes afterwards fail with ErrClosed; no goroutine of a
// closed Store is left running.
func TestCloseStopsFollower(t *testing.T) {
	k := testbackend.NewFake(t)
	topic := testbackend.UniqueName(t)
	warm := openStore(t, k, topic, keyK1)
	mustCreate(t, warm, endpoint("e1", "t-a"))
	before := storeGoroutines()
	for range 3 {
		s, err := Open(context.Background(), storeConfig(t, k, topic, keyK1))
		if err != nil {
			t.Fatal(err)
		}
		if s.Get("e1") == nil {
			t.Fatal("e1 not loaded")
		}
		// A write whose caller gives up leaves a goroutine watching for
		// its record; Close must end it too.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _ = s.Create(ctx, endpoint("e-cancelled", "t-a"))
		s.Close()
		s.Close() // idempotent
		if _, err := s.Create(context.Background(), endpoint("e2", "t-a")); !errors.Is(err, ErrClosed) {
			t.Fatalf("create after Close: %v, want ErrClosed", err)
		}
	}
	if before != 1 {
		t.Fatalf("%d goroutines run the open Store's code, want 1 (its follower)", before)
	}
	// A goroutine that has signalled Done may still be returning.
	eventually(t, func() bool { return storeGoroutines() == before }, "only the open Store's follower runs Store code")
}

// storeGoroutines counts goroutines running this package's Store code
// (the follower, watched writes), not the tests.
func storeGoroutines() int {
	buf := make([]byte, 4<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "internal/registry.(*Store)") {
			n++
		}
	}
	return n
}

// TestTopicLayout: Open creates a compacted one-partition topic that
// accepts records as large as the other topics, and refuses a topic with
// more partitions, whose log would not order every change.
func TestTopicLayout(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		openStore(t, k, topic, keyK1)
		cfgs, err := k.Admin(t).DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range cfgs[0].Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
		if got["cleanup.policy"] != "compact" || got["max.message.bytes"] != strconv.Itoa(kafka.MaxMessageBytes) {
			t.Fatalf("topic configs: cleanup.policy=%q max.message.bytes=%q", got["cleanup.policy"], got["max.message.bytes"])
		}
		two := k.Topic(t, 2)
		if _, err := Open(ctx, storeConfig(t, k, two, keyK1)); !errors.Is(err, ErrTopic) {
			t.Fatalf("open on a 2-partition topic: %v, want ErrTopic", err)
		}
		if _, err := Open(ctx, Config{Brokers: k.Brokers}); !errors.Is(err, ErrConfig) {
			t.Fatalf("open without a keyring: %v, want ErrConfig", err)
		}
	})
}
