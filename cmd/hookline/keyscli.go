package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/topics"
)

// adminFlags are what the tenants and keys commands need to open the
// registry itself, as rekey does: Kafka, the topic prefix and the
// keyring. They work with the API down, which is when a leaked key may
// most need revoking.
type adminFlags struct {
	brokers, prefix string
	registry        registryFlags
	kafka           kafkaFlags
	json            bool
	fs              *flagSet
}

// newAdminFlags registers them; withJSON adds --json, for the commands
// that print records.
func newAdminFlags(name, args string, withJSON bool) *adminFlags {
	f := &adminFlags{fs: newFlagSet(name, args)}
	f.fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	f.fs.StringVar(&f.prefix, "topic-prefix", topics.DefaultPrefix, "prefix of hookline's topics (the registry is <prefix>registry)")
	f.registry.register(f.fs)
	f.kafka.register(f.fs)
	if withJSON {
		f.fs.BoolVar(&f.json, "json", false, "print JSON instead of lines for people")
	}
	return f
}

// open reads the flags after parse and opens the registry.
func (f *adminFlags) open(ctx context.Context) (*registry.Store, error) {
	if err := f.fs.refuseZero("topic-prefix"); err != nil {
		return nil, err
	}
	log, err := f.fs.logger()
	if err != nil {
		return nil, err
	}
	kr, err := f.registry.keyring()
	if err != nil {
		return nil, err
	}
	if kr == nil {
		return nil, badFlag("master-key", "required: the registry's keyring, as the api and dispatcher have it")
	}
	if err := f.kafka.connect(ctx, splitList(f.brokers), log); err != nil {
		return nil, err
	}
	return openRegistry(ctx, splitList(f.brokers), f.prefix, kr, "", log, f.kafka.opts...)
}

// runTenants is `hookline tenants list`.
func runTenants(ctx context.Context, args []string) error {
	return tenantsCommand(ctx, args, os.Stdout)
}

func tenantsCommand(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintf(os.Stderr, "usage: hookline tenants list [--json] --brokers LIST --master-key K\n\nTenants are created through the API (POST /v1/tenants with the operator key).\n")
		return helpOrUsage(args)
	}
	f := newAdminFlags("tenants list", "[--json] --brokers LIST --master-key K", true)
	if err := f.fs.parse(args[1:]); err != nil {
		return err
	}
	st, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ts := st.Tenants()
	if f.json {
		return printJSON(out, ts)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCREATED\tKEYS")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339), len(st.Keys(t.ID)))
	}
	return w.Flush()
}

// runKeys is `hookline keys list|create|revoke`.
func runKeys(ctx context.Context, args []string) error {
	return keysCommand(ctx, args, os.Stdout, os.Stderr)
}

func keysCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	subs := map[string]string{
		"list":   "--tenant ID [--json]",
		"create": "--tenant ID [--name N] [--expires-in 720h | --expires-at RFC3339] [--json]",
		"revoke": "KEY_ID",
	}
	if len(args) == 0 || subs[args[0]] == "" {
		fmt.Fprintf(os.Stderr, "usage: hookline keys list|create|revoke [flags] --brokers LIST --master-key K\n\n"+
			"A leaked key: hookline keys create --tenant T, move the services to the new token, then\n"+
			"hookline keys revoke OLD_ID; every API process refuses it within a second.\n")
		return helpOrUsage(args)
	}
	sub, args := args[0], args[1:]
	f := newAdminFlags("keys "+sub, subs[sub]+" --brokers LIST --master-key K", sub != "revoke")
	var tenant string
	if sub != "revoke" {
		f.fs.StringVar(&tenant, "tenant", "", "the tenant whose keys these are")
	}
	var name, expiresAt string
	var expiresIn time.Duration
	if sub == "create" {
		f.fs.StringVar(&name, "name", "default", "the key's name, to tell keys apart in lists")
		f.fs.DurationVar(&expiresIn, "expires-in", 0, `the key expires this long from now, e.g. "720h" (default: never)`)
		f.fs.StringVar(&expiresAt, "expires-at", "", "the key expires then, RFC 3339 (instead of --expires-in)")
	}
	id := ""
	if sub == "revoke" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := f.fs.parse(args); err != nil {
		return err
	}
	switch {
	case sub == "revoke" && id == "":
		return errors.New("give the key id: hookline keys revoke KEY_ID (hookline keys list --tenant T shows them)")
	case sub != "revoke" && tenant == "":
		return badFlag("tenant", "required: the tenant whose keys to %s (hookline tenants list shows them)", sub)
	}
	until, err := expiryFlags(expiresIn, expiresAt)
	if err != nil {
		return err
	}
	st, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "list":
		if _, ok := st.Tenant(tenant); !ok {
			return badFlag("tenant", "no tenant %q", tenant)
		}
		return printKeys(out, st.Keys(tenant), f.json)
	case "create":
		return createKey(ctx, st, out, errOut, tenant, name, until, expiresIn != 0, f.json)
	}
	return revokeKey(ctx, st, out, id)
}

// expiryFlags turns --expires-in or --expires-at into a time; neither is
// the zero time (never). Whether it is in the future is the registry's
// rule (ErrKeyExpiry).
func expiryFlags(in time.Duration, at string) (time.Time, error) {
	switch {
	case in != 0 && at != "":
		return time.Time{}, badFlag("expires-at", "give --expires-in or --expires-at, not both")
	case in != 0:
		return time.Now().Add(in), nil
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return time.Time{}, badFlag("expires-at", "want RFC 3339 (2027-01-31T00:00:00Z), got %q", at)
		}
		return t, nil
	}
	return time.Time{}, nil
}

func createKey(ctx context.Context, st *registry.Store, out, errOut io.Writer, tenant, name string, until time.Time, byIn, asJSON bool) error {
	tok, k, err := st.CreateKeyUntil(ctx, tenant, name, until)
	switch {
	case errors.Is(err, registry.ErrTenantNotFound):
		return badFlag("tenant", "no tenant %q", tenant)
	case errors.Is(err, registry.ErrKeyExpiry) && byIn:
		return badFlag("expires-in", "must be positive: a key cannot expire in the past")
	case errors.Is(err, registry.ErrKeyExpiry):
		return badFlag("expires-at", "%s is not in the future", until.Format(time.RFC3339))
	case errors.Is(err, endpoints.ErrInvalid):
		return badFlag("name", "1 to 200 bytes, no control characters")
	case err != nil:
		return err
	}
	if asJSON {
		v := keyJSONOf(k)
		v.Token = tok
		return printJSON(out, v)
	}
	fmt.Fprintf(errOut, "created key %s (%s) for tenant %s, expires %s; the token below is shown this once: keep it now\n",
		k.ID, k.Name, k.TenantID, orNever(k.ExpiresAt))
	_, err = fmt.Fprintln(out, tok)
	return err
}

func revokeKey(ctx context.Context, st *registry.Store, out io.Writer, id string) error {
	k, ok := st.Key(id)
	if !ok {
		return fmt.Errorf("no API key %q (hookline keys list --tenant T shows a tenant's keys)", id)
	}
	if err := st.RevokeKey(ctx, k.TenantID, id); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "revoked key %s (%s, %s) of tenant %s; every API process refuses it within a second\n", k.ID, k.Name, k.Prefix, k.TenantID)
	return err
}

// keyJSON is a key as --json prints it; Token only at create.
type keyJSON struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenantId"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
	Token      string    `json:"token,omitempty"`
}

func keyJSONOf(k registry.Key) keyJSON {
	return keyJSON{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt}
}

func printKeys(out io.Writer, ks []registry.Key, asJSON bool) error {
	if asJSON {
		vs := make([]keyJSON, 0, len(ks))
		for _, k := range ks {
			vs = append(vs, keyJSONOf(k))
		}
		return printJSON(out, vs)
	}
	now := time.Now()
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tEXPIRES")
	for _, k := range ks {
		used, expires := "never", orNever(k.ExpiresAt)
		if !k.LastUsedAt.IsZero() {
			used = k.LastUsedAt.Format(time.RFC3339)
		}
		if k.Expired(now) {
			expires += " (expired)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, cmp.Or(k.Prefix, "-"), k.CreatedAt.Format(time.RFC3339), used, expires)
	}
	return w.Flush()
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
