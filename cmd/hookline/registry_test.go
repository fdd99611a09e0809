package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
)

func newKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestRekeyCommandRotatesTheMasterKey follows the documented rotation:
// secrets written under K1; every process on "K2,K1"; rekey; then a
// process holding only K2 reads every secret, and one holding only K1
// can no longer open the registry.
func TestRekeyCommandRotatesTheMasterKey(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		prefix := testbackend.UniqueName(t) + "."
		k1, k2 := newKey(t), newKey(t)
		open := func(spec string) (*registry.Store, error) {
			kr, err := registry.ParseKeyring(spec)
			if err != nil {
				t.Fatal(err)
			}
			return openRegistry(ctx, k.Brokers, prefix, kr, "", zap.NewNop())
		}
		st, err := open(k1)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b", "c"} {
			e := &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: "https://example.com/" + id, Secrets: []string{"whsec_secret-of-" + id}}
			if _, err := st.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()

		both, _ := registry.ParseKeyring(k2 + "," + k1)
		n, err := rekey(ctx, k.Brokers, prefix, both, zap.NewNop())
		if err != nil || n != 3 {
			t.Fatalf("rekey re-sealed %d endpoints (%v), want 3", n, err)
		}
		only2, err := open(k2)
		if err != nil {
			t.Fatalf("a process with only the new key: %v", err)
		}
		defer only2.Close()
		for _, id := range []string{"a", "b", "c"} {
			if e := only2.Get(id); e == nil || e.Secrets[0] != "whsec_secret-of-"+id {
				t.Fatalf("endpoint %s under the new key alone: %+v", id, e)
			}
		}
		if _, err := open(k1); !errors.Is(err, registry.ErrKeyring) {
			t.Fatalf("a process with only the old key opened the registry: %v, want ErrKeyring", err)
		}
		t.Logf("rekey: 3 endpoints re-sealed; new key alone reads all; old key alone refused")
	})
}
