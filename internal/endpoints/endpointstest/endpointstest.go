// Package endpointstest is the conformance suite every endpoints.Registry
// implementation passes: the file-backed Set (endpoints) and the
// Kafka-backed registry (internal/registry, on each test backend), each
// against the same expectations. A store whose changes show a moment
// later (a log-backed one) says so with Options.Eventually.
package endpointstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
)

// New returns a registry holding eps. Changes made through the registry
// may take a moment to show (a log-backed store): the suite waits for them
// with Eventually.
type New func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry

// Options adapt the suite to a store.
type Options struct {
	// Eventually waits until cond holds or fails the test naming what.
	// Nil: the change must show at once (an in-memory store).
	Eventually func(t *testing.T, cond func() bool, what string)
	// Dialect gives application app the dialect d in r (creating the
	// application if need be). Every implementation resolves endpoints
	// against their application's dialect; this is how the suite sets one.
	Dialect func(t *testing.T, r endpoints.Registry, app string, d endpoints.Dialect)
}

// Run runs the suite against registries made by newRegistry.
func Run(t *testing.T, newRegistry New, opts Options) {
	if opts.Eventually == nil {
		opts.Eventually = func(t *testing.T, cond func() bool, what string) {
			t.Helper()
			if !cond() {
				t.Fatalf("%s: not so right after the change", what)
			}
		}
	}
	t.Run("lookups", func(t *testing.T) { lookups(t, newRegistry) })
	t.Run("tenants are isolated", func(t *testing.T) { isolated(t, newRegistry) })
	t.Run("disable", func(t *testing.T) { disable(t, newRegistry, opts) })
	t.Run("disable unknown", func(t *testing.T) { disableUnknown(t, newRegistry) })
	t.Run("readers during changes", func(t *testing.T) { concurrent(t, newRegistry, opts) })
	t.Run("application dialects", func(t *testing.T) { dialects(t, newRegistry, opts) })
}

// dialects: an endpoint resolves its application's dialect field by
// field, its own fields win, a change of the dialect reaches it, and an
// endpoint of another application is untouched.
func dialects(t *testing.T, newRegistry New, opts Options) {
	if opts.Dialect == nil {
		t.Fatal("Options.Dialect is required: every registry resolves application dialects")
	}
	own := Endpoint("own", "t-a")
	own.Application, own.Timeout = "app1", endpoints.Duration(15*time.Second)
	follows, other := Endpoint("follows", "t-a"), Endpoint("other", "t-a")
	follows.Application, other.Application = "app1", "app2"
	r := newRegistry(t, follows, own, other)
	opts.Dialect(t, r, "app1", endpoints.Dialect{Timeout: endpoints.Duration(6 * time.Second), MaxItems: 1, HeaderPrefix: "X-App"})
	opts.Eventually(t, func() bool {
		f := r.Get("follows")
		return f != nil && f.Limits().Timeout == 6*time.Second && f.Limits().MaxItems == 1 && f.Resolved().HeaderPrefix == "X-App"
	}, "follows resolves app1's dialect")
	if o := r.Get("own"); o.Limits().Timeout != 15*time.Second || o.Limits().MaxItems != 1 {
		t.Fatalf("own: limits %+v, want its own 15s and app1's 1 item", o.Limits())
	}
	if o := r.Get("other"); o.Limits().Timeout != endpoints.DefaultTimeout || o.Resolved().HeaderPrefix != "" {
		t.Fatalf("other (app2) took app1's dialect: %+v", o.Resolved())
	}
	opts.Dialect(t, r, "app1", endpoints.Dialect{Timeout: endpoints.Duration(9 * time.Second)})
	opts.Eventually(t, func() bool {
		for _, e := range r.ForTenant("t-a") {
			if e.ID == "follows" {
				return e.Limits().Timeout == 9*time.Second && e.Limits().MaxItems == endpoints.DefaultMaxItems
			}
		}
		return false
	}, "the changed dialect reaches follows through ForTenant")
}

// Endpoint returns a valid endpoint of tenant.
func Endpoint(id, tenant string) *endpoints.Endpoint {
	return &endpoints.Endpoint{ID: id, TenantID: tenant, URL: "https://example.com/hooks/" + id, Secrets: []string{"whsec-" + id}}
}

func lookups(t *testing.T, newRegistry New) {
	r := newRegistry(t, Endpoint("a1", "t-a"), Endpoint("a2", "t-a"), Endpoint("b1", "t-b"))
	if got := ids(r.ForTenant("t-a")); got != "[a1 a2]" {
		t.Fatalf("ForTenant(t-a) = %s, want [a1 a2]", got)
	}
	if got := r.ForTenant("t-none"); len(got) != 0 {
		t.Fatalf("ForTenant of an unknown tenant = %s, want none", ids(got))
	}
	if e := r.Get("b1"); e == nil || e.TenantID != "t-b" || e.URL != "https://example.com/hooks/b1" {
		t.Fatalf("Get(b1) = %+v", e)
	}
	if e := r.Get("nope"); e != nil {
		t.Fatalf("Get of an unknown id = %+v, want nil", e)
	}
}

func isolated(t *testing.T, newRegistry New) {
	var eps []*endpoints.Endpoint
	for i := 0; i < 20; i++ {
		eps = append(eps, Endpoint(fmt.Sprintf("e%d", i), fmt.Sprintf("t-%d", i%4)))
	}
	r := newRegistry(t, eps...)
	for i := 0; i < 4; i++ {
		tenant := fmt.Sprintf("t-%d", i)
		got := r.ForTenant(tenant)
		if len(got) != 5 {
			t.Fatalf("%s has %d endpoints, want 5", tenant, len(got))
		}
		for _, e := range got {
			if e.TenantID != tenant {
				t.Fatalf("ForTenant(%s) holds %s of %s", tenant, e.ID, e.TenantID)
			}
		}
	}
}

func disable(t *testing.T, newRegistry New, opts Options) {
	r := newRegistry(t, Endpoint("a1", "t-a"), Endpoint("a2", "t-a"))
	before := r.Get("a1")
	if err := r.Disable(context.Background(), "a1", "endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	opts.Eventually(t, func() bool { e := r.Get("a1"); return e != nil && e.Disabled }, "Get shows the endpoint disabled")
	opts.Eventually(t, func() bool {
		for _, e := range r.ForTenant("t-a") {
			if e.ID == "a1" {
				return e.Disabled
			}
		}
		return false
	}, "ForTenant shows the endpoint disabled")
	if before.Disabled {
		t.Fatal("an endpoint value read before Disable changed under its reader")
	}
	if e := r.Get("a2"); e == nil || e.Disabled {
		t.Fatalf("the other endpoint changed: %+v", e)
	}
}

func disableUnknown(t *testing.T, newRegistry New) {
	r := newRegistry(t, Endpoint("a1", "t-a"))
	if err := r.Disable(context.Background(), "nope", "x"); !errors.Is(err, endpoints.ErrNotFound) {
		t.Fatalf("Disable of an unknown id: %v, want ErrNotFound", err)
	}
}

// concurrent reads while endpoints are disabled: run with -race.
func concurrent(t *testing.T, newRegistry New, opts Options) {
	var eps []*endpoints.Endpoint
	for i := 0; i < 50; i++ {
		eps = append(eps, Endpoint(fmt.Sprintf("e%d", i), "t-a"))
	}
	r := newRegistry(t, eps...)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, e := range r.ForTenant("t-a") {
					_ = e.Disabled
				}
				_ = r.Get("e7")
			}
		}()
	}
	for i := 0; i < 50; i += 2 {
		if err := r.Disable(context.Background(), fmt.Sprintf("e%d", i), "test"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	opts.Eventually(t, func() bool {
		n := 0
		for _, e := range r.ForTenant("t-a") {
			if e.Disabled {
				n++
			}
		}
		return n == 25
	}, "25 of 50 endpoints disabled")
}

func ids(eps []*endpoints.Endpoint) string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.ID
	}
	slices.Sort(out) // the order is the registry's own
	return fmt.Sprint(out)
}
