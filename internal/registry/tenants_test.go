package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

func TestTenantsAndKeys(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		acme, err := a.CreateTenant(ctx, "", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		globex, err := a.CreateTenant(ctx, "", "Globex")
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := a.Tenant(acme.ID); !ok || got != acme {
			t.Fatalf("Tenant(%s) = %+v, %v", acme.ID, got, ok)
		}
		if _, err := a.CreateTenant(ctx, "", " "); !errors.Is(err, endpoints.ErrInvalid) {
			t.Fatalf("a blank tenant name: %v", err)
		}
		token, key, err := a.CreateKey(ctx, acme.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, tokenPrefix))
		if !strings.HasPrefix(token, tokenPrefix) || err != nil || len(raw) != 32 {
			t.Fatalf("token %q does not carry 32 random bytes", token)
		}
		if key.TenantID != acme.ID || key.Name != "ci" || key.ID == "" {
			t.Fatalf("key %+v", key)
		}
		if got, ok := a.Authenticate(token); !ok || got != key {
			t.Fatalf("Authenticate on the writing store: %+v, %v", got, ok)
		}
		eventually(t, func() bool { got, ok := b.Authenticate(token); return ok && got == key }, "the other store authenticates the token")
		if ts := b.Tenants(); len(ts) != 2 || ts[0] != acme || ts[1] != globex {
			t.Fatalf("Tenants() = %+v", ts)
		}
		for _, bad := range []string{"", tokenPrefix, token[:len(token)-1], token + "x", strings.ToUpper(token)} {
			if _, ok := a.Authenticate(bad); ok {
				t.Fatalf("Authenticate(%q) accepted", bad)
			}
		}
		if _, _, err := a.CreateKey(ctx, "t_nope", "x"); !errors.Is(err, ErrTenantNotFound) {
			t.Fatalf("a key for an unknown tenant: %v", err)
		}
		if err := a.RevokeKey(ctx, globex.ID, key.ID); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("another tenant revoked acme's key: %v", err)
		}
		if ks := a.Keys(acme.ID); len(ks) != 1 || ks[0] != key || len(a.Keys(globex.ID)) != 0 {
			t.Fatalf("Keys: %+v / %+v", ks, a.Keys(globex.ID))
		}
		if err := a.RevokeKey(ctx, acme.ID, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.Authenticate(token); ok {
			t.Fatal("a revoked token still authenticates")
		}
		eventually(t, func() bool { _, ok := b.Authenticate(token); return !ok }, "the other store refuses the revoked token")
		c := openStore(t, k, topic, keyK1)
		if ts := c.Tenants(); len(ts) != 2 {
			t.Fatalf("a fresh store holds %d tenants", len(ts))
		}
		if _, ok := c.Authenticate(token); ok {
			t.Fatal("a fresh store authenticates the revoked token")
		}
	})
}

// TestRotate: the new secret comes first; with an overlap the old one
// signs until RotatedUntil and is then dropped by reads alone; a value
// read before stays as it was.
func TestRotate(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		old := mustCreate(t, a, endpoint("e1", "t-a")).Secrets[0]
		mustCreate(t, a, endpoint("e2", "t-a"))
		const overlap = 500 * time.Millisecond
		e, err := a.Rotate(ctx, "e1", "whsec_next", overlap)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Secrets) != 2 || e.Secrets[0] != "whsec_next" || e.Secrets[1] != old || e.RotatedUntil.IsZero() {
			t.Fatalf("after Rotate with overlap: %v until %v", e.Secrets, e.RotatedUntil)
		}
		eventually(t, func() bool { g := b.Get("e1"); return g != nil && len(g.Secrets) == 2 && g.Secrets[0] == "whsec_next" }, "b signs with both")
		held := b.Get("e1")
		time.Sleep(time.Until(e.RotatedUntil) + 10*time.Millisecond)
		for name, s := range map[string]*Store{"a": a, "b": b} {
			if g := s.Get("e1"); len(g.Secrets) != 1 || g.Secrets[0] != "whsec_next" {
				t.Fatalf("%s: Get after the overlap: %v", name, g.Secrets)
			}
			for _, g := range s.ForTenant("t-a") {
				if g.ID == "e1" && len(g.Secrets) != 1 {
					t.Fatalf("%s: ForTenant after the overlap: %v", name, g.Secrets)
				}
			}
		}
		if len(held.Secrets) != 2 {
			t.Fatal("a value read during the overlap changed under its reader")
		}
		if got := openStore(t, k, topic, keyK1).Get("e1").Secrets; len(got) != 1 || got[0] != "whsec_next" {
			t.Fatalf("a fresh store after the overlap: %v", got)
		}
		e, err = a.Rotate(ctx, "e2", "whsec_at-once", 0)
		if err != nil || len(e.Secrets) != 1 || e.Secrets[0] != "whsec_at-once" || !e.RotatedUntil.IsZero() {
			t.Fatalf("rotate without overlap: %v, %v", e, err)
		}
		if _, err := a.Rotate(ctx, "nope", "whsec_x", 0); !errors.Is(err, endpoints.ErrNotFound) {
			t.Fatalf("rotate of an unknown id: %v", err)
		}
	})
}
