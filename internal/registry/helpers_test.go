package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Master keys for tests: 32 bytes each of one repeated value.
var (
	keyK1 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyK2 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	keyK3 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
)

func keyring(t testing.TB, spec string) *Keyring {
	t.Helper()
	kr, err := ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func storeConfig(t testing.TB, k testbackend.Kafka, topic, keys string) Config {
	return Config{
		Brokers: k.Brokers, Topic: topic, Keyring: keyring(t, keys), FetchMaxWait: 50 * time.Millisecond,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	}
}

// openStore opens a Store on its own client, closed at test end.
func openStore(t testing.TB, k testbackend.Kafka, topic, keys string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, storeConfig(t, k, topic, keys))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func endpoint(id, tenant string) *endpoints.Endpoint {
	return &endpoints.Endpoint{ID: id, TenantID: tenant, URL: "https://example.com/hooks/" + id, Secrets: []string{"whsec_secret-of-" + id}}
}

func mustCreate(t testing.TB, s *Store, e *endpoints.Endpoint) *endpoints.Endpoint {
	t.Helper()
	got, err := s.Create(context.Background(), e)
	if err != nil {
		t.Fatalf("create %s: %v", e.ID, err)
	}
	return got
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// table renders a Store's endpoints for comparing two Stores.
func table(s *Store) map[string]endpoints.Endpoint {
	out := map[string]endpoints.Endpoint{}
	for id, e := range s.snapshot().entries {
		if e.ep != nil {
			out[id] = *e.ep
		}
	}
	return out
}
