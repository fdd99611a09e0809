package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
)

// TestKeysCommands: tenants list and keys list|create|revoke against the
// registry: a created token is printed once, alone on stdout, and works;
// lists (lines or JSON) never show it; a revoked key is refused by a
// process following the registry; bad flags are named.
func TestKeysCommands(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		prefix := testbackend.UniqueName(t) + "."
		master := newKey(t)
		kr, _ := registry.ParseKeyring(master)
		st, err := openRegistry(ctx, k.Brokers, prefix, kr, "", zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		acme, _ := st.CreateTenant(ctx, "acme-1", "Acme")
		if _, err := st.CreateTenant(ctx, "globex-1", "Globex"); err != nil {
			t.Fatal(err)
		}
		common := []string{"--brokers", strings.Join(k.Brokers, ","), "--topic-prefix", prefix, "--master-key", master, "--log-level", "error"}
		keys := func(args ...string) (string, string, error) {
			var out, errOut bytes.Buffer
			err := keysCommand(ctx, append(args, common...), &out, &errOut)
			return out.String(), errOut.String(), err
		}

		var tl bytes.Buffer
		if err := tenantsCommand(ctx, append([]string{"list"}, common...), &tl); err != nil {
			t.Fatal(err)
		}
		if s := tl.String(); !strings.Contains(s, "acme-1") || !strings.Contains(s, "Globex") || strings.Count(s, "\n") != 3 {
			t.Fatalf("tenants list:\n%s", s)
		}
		tl.Reset()
		if err := tenantsCommand(ctx, append([]string{"list", "--json"}, common...), &tl); err != nil {
			t.Fatal(err)
		}
		var ts []registry.Tenant
		if err := json.Unmarshal(tl.Bytes(), &ts); err != nil || len(ts) != 2 || ts[0].ID != "acme-1" {
			t.Fatalf("tenants list --json: %v\n%s", err, tl.String())
		}

		out, errOut, err := keys("create", "--tenant", acme.ID, "--name", "ci", "--expires-in", "720h")
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(out)
		if !strings.HasPrefix(token, "hlk_") || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "shown this once") || strings.Contains(errOut, token) {
			t.Fatalf("create printed %q to stdout and %q to stderr", out, errOut)
		}
		var got registry.Key
		eventually(t, "the created key authenticates", func() bool { var ok bool; got, ok = st.Authenticate(token); return ok })
		if d := time.Until(got.ExpiresAt); got.Name != "ci" || d < 719*time.Hour || d > 721*time.Hour {
			t.Fatalf("created key %+v", got)
		}

		js, _, err := keys("create", "--tenant", acme.ID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var created struct{ ID, Name, Token string }
		if err := json.Unmarshal([]byte(js), &created); err != nil || created.Name != "default" || !strings.HasPrefix(created.Token, "hlk_") {
			t.Fatalf("create --json: %v\n%s", err, js)
		}

		lines, _, err := keys("list", "--tenant", acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		listed, _, err := keys("list", "--tenant", acme.ID, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var ks []map[string]any
		if err := json.Unmarshal([]byte(listed), &ks); err != nil || len(ks) != 2 || ks[0]["id"] != got.ID || ks[0]["prefix"] != token[:8] {
			t.Fatalf("keys list --json: %v\n%s", err, listed)
		}
		if !strings.Contains(lines, got.ID) || !strings.Contains(lines, token[:8]) || !strings.Contains(lines, "never") {
			t.Fatalf("keys list:\n%s", lines)
		}
		for _, s := range []string{lines, listed} {
			for _, tok := range []string{token, created.Token} {
				if strings.Contains(s, tok[8:20]) || strings.Contains(s, `"token"`) {
					t.Fatalf("a key list shows a token:\n%s", s)
				}
			}
		}

		out, _, err = keys("revoke", got.ID)
		if err != nil || !strings.Contains(out, "revoked key "+got.ID) {
			t.Fatalf("revoke: %v: %s", err, out)
		}
		eventually(t, "the revoked key is refused", func() bool { _, ok := st.Authenticate(token); return !ok })
		if _, ok := st.Authenticate(created.Token); !ok {
			t.Fatal("revoking one key refused another")
		}

		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "--tenant", acme.ID, "--expires-in", "-1h"}, "--expires-in"},
			{[]string{"create", "--tenant", acme.ID, "--expires-at", "2020-01-01T00:00:00Z"}, "--expires-at"},
			{[]string{"create", "--tenant", acme.ID, "--expires-at", "tomorrow"}, "--expires-at"},
			{[]string{"create", "--tenant", acme.ID, "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z"}, "--expires-at"},
			{[]string{"create", "--tenant", "nope"}, "--tenant"},
			{[]string{"create"}, "--tenant"},
			{[]string{"list", "--tenant", "nope"}, "--tenant"},
			{[]string{"revoke", got.ID}, got.ID},
			{[]string{"revoke"}, "KEY_ID"},
		} {
			if _, _, err := keys(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("keys %v: %v, want an error naming %s", tc.args, err, tc.want)
			}
		}
		if n := len(st.Keys(acme.ID)); n != 1 {
			t.Fatalf("refused commands changed the keys: %d left, want 1", n)
		}
	})
}

// TestKeysUsage: help asked for is not an error; a missing or unknown
// subcommand is a command line that cannot be read.
func TestKeysUsage(t *testing.T) {
	for _, tc := range []struct {
		args string
		want int
	}{
		{"keys -h", 0}, {"keys create -h", 0}, {"tenants --help", 0}, {"tenants list -h", 0},
		{"keys", 2}, {"keys rotate", 2}, {"tenants", 2}, {"tenants create", 2},
	} {
		if got := run(strings.Fields(tc.args)); got != tc.want {
			t.Errorf("hookline %s: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
