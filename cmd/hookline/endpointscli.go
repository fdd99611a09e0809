package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// clientFlags say which API a scripting command talks to, as whom.
type clientFlags struct {
	apiURL, apiKey string
}

func (f *clientFlags) register(fs *flagSet) {
	fs.StringVar(&f.apiURL, "api-url", "http://127.0.0.1:8080", "base URL of the management API (hookline api, or dev)")
	fs.StringVar(&f.apiKey, "api-key", "", "tenant API key (prefer HOOKLINE_API_KEY to the command line)")
}

func (f *clientFlags) client() (*apiClient, error) {
	if f.apiKey == "" {
		return nil, badFlag("api-key", "required: a tenant key (dev prints one at start)")
	}
	return newAPIClient(f.apiURL, f.apiKey), nil
}

// endpointFields are the flags of create and update; only those given
// are sent, so update changes just them.
type endpointFields struct {
	fs     *flagSet
	body   map[string]any
	jsonIn string
}

func newEndpointFields(fs *flagSet, create bool) *endpointFields {
	f := &endpointFields{fs: fs, body: map[string]any{}}
	str := func(name, field, usage string) {
		fs.Func(name, usage, func(v string) error { f.body[field] = v; return nil })
	}
	list := func(name, field, usage string) {
		fs.Func(name, usage+", comma-separated", func(v string) error { f.body[field] = splitList(v); return nil })
	}
	num := func(name, field, usage string) {
		fs.Func(name, usage, func(v string) error {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			f.body[field] = n
			return nil
		})
	}
	boolean := func(name, field string, value bool, usage string) {
		fs.BoolFunc(name, usage, func(string) error { f.body[field] = value; return nil })
	}
	str("name", "name", "endpoint name, unique in the tenant")
	str("url", "url", "where deliveries are POSTed (https outside dev)")
	list("events", "eventTypes", `event types: exact ("task.created"), prefix ("task.*") or "*"`)
	str("timeout", "timeout", `timeout of one POST, e.g. "10s" (at most 60s)`)
	num("max-items", "maxItems", "events per delivery (1: one event per POST)")
	str("max-wait", "maxWait", `seal a batch this long after its first event, e.g. "30s"`)
	num("max-bytes", "maxBytes", "largest delivery body in bytes")
	str("retry-policy", "retryPolicy", `"any" (retry every failure) or "5xx" (other 4xx are final)`)
	str("max-age", "maxAge", `dead-letter a delivery this long after its first attempt, e.g. "4h"`)
	list("ignore-origins", "ignoreOrigins", "origins whose events are not sent (e.g. api)")
	list("ignore-fields", "ignoreFields", "updates changing only these fields are not sent")
	str("header-prefix", "headerPrefix", `hookline scheme: header prefix, e.g. "X-Acme" (default: the application's)`)
	str("user-agent", "userAgent", "User-Agent of deliveries (default: the application's)")
	list("retry-schedule", "retrySchedule", `wait before each retry, e.g. "1m,5m,30m" (default: the application's)`)
	str("signature-format", "signatureFormat", `hookline scheme: "sha256" (sha256=<hex>, default) or "hex" (bare hex)`)
	boolean("inactive", "active", false, "create or switch the endpoint off")
	boolean("active", "active", true, "switch the endpoint on")
	if create {
		str("scheme", "scheme", `signing scheme: "hookline" (default) or "standard-webhooks"`)
		str("secret", "secret", "signing secret (default: generated, shown once)")
		str("application", "application", "the source application whose events it receives (fixed after create)")
		boolean("no-verify", "verify", false, "create without the test ping")
	}
	fs.StringVar(&f.jsonIn, "json", "", "read the request body from this JSON file (- for stdin); flags given override its fields")
	return f
}

// request is the body: --json's, then the flags over it.
func (f *endpointFields) request() (map[string]any, error) {
	out := map[string]any{}
	if f.jsonIn != "" {
		var r io.Reader = os.Stdin
		if f.jsonIn != "-" {
			file, err := os.Open(f.jsonIn)
			if err != nil {
				return nil, badFlag("json", "%v", err)
			}
			defer file.Close()
			r = file
		}
		if err := json.NewDecoder(r).Decode(&out); err != nil {
			return nil, badFlag("json", "not a JSON object: %v", err)
		}
	}
	for k, v := range f.body {
		out[k] = v
	}
	return out, nil
}

func runEndpoints(ctx context.Context, args []string) error {
	subs := "create|list|get|update|delete|rotate|test"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || isHelp(args[0]) {
		fmt.Fprintf(os.Stderr, "usage: hookline endpoints %s [flags]\n\n'hookline endpoints <sub> -h' lists a subcommand's flags.\n", subs)
		return helpOrUsage(args)
	}
	sub, args := args[0], args[1:]
	var c clientFlags
	fs := newFlagSet("endpoints "+sub, endpointUsage(sub))
	c.register(fs)
	var fields *endpointFields
	switch sub {
	case "create", "update":
		fields = newEndpointFields(fs, sub == "create")
	}
	var status, secret, overlap string
	switch sub {
	case "list":
		fs.StringVar(&status, "status", "", "only active, inactive or disabled endpoints")
	case "rotate":
		fs.StringVar(&secret, "secret", "", "the new secret (default: generated, shown once)")
		fs.StringVar(&overlap, "overlap", "", `standard-webhooks only: how long the old secret keeps signing (default "24h")`)
	}
	id, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, rest = args[0], args[1:]
	}
	if err := fs.parse(rest); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	needID := func() error {
		if id == "" {
			return fmt.Errorf("give the endpoint id: hookline endpoints %s ID", sub)
		}
		return nil
	}
	var out any
	switch sub {
	case "create":
		body, err := fields.request()
		if err != nil {
			return err
		}
		err = cl.do(ctx, "POST", "/v1/endpoints", body, &out)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "created; the secret below is shown this once: keep it now")
	case "list":
		return listEndpoints(ctx, cl, status)
	case "get", "delete", "test":
		if err := needID(); err != nil {
			return err
		}
		method, path := map[string]string{"get": "GET", "delete": "DELETE", "test": "POST"}[sub], "/v1/endpoints/"+url.PathEscape(id)
		if sub == "test" {
			path += "/test"
		}
		if err := cl.do(ctx, method, path, nil, &out); err != nil {
			return err
		}
		if sub == "delete" {
			fmt.Println("deleted", id)
			return nil
		}
	case "update":
		if err := needID(); err != nil {
			return err
		}
		body, err := fields.request()
		if err != nil {
			return err
		}
		if len(body) == 0 {
			return errors.New("nothing to change: give the flags of the fields to update (see -h)")
		}
		if err := cl.do(ctx, "PATCH", "/v1/endpoints/"+url.PathEscape(id), body, &out); err != nil {
			return err
		}
	case "rotate":
		if err := needID(); err != nil {
			return err
		}
		body := map[string]any{}
		if secret != "" {
			body["secret"] = secret
		}
		if overlap != "" {
			body["overlap"] = overlap
		}
		if err := cl.do(ctx, "POST", "/v1/endpoints/"+url.PathEscape(id)+"/rotate-secret", body, &out); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "rotated; the new secret below is shown this once: keep it now")
	default:
		return fmt.Errorf("unknown subcommand %q: want %s", sub, subs)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func endpointUsage(sub string) string {
	switch sub {
	case "create":
		return "--name N --url U --events T[,T] [flags]"
	case "update":
		return "ID [the flags of the fields to change]"
	case "list":
		return "[--status active|inactive|disabled]"
	case "rotate":
		return "ID [--secret S] [--overlap 24h]"
	}
	return "ID"
}

// listEndpoints prints every page of the tenant's endpoints as a table.
func listEndpoints(ctx context.Context, cl *apiClient, status string) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSTATUS\tEVENTS\tURL")
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if status != "" {
			q.Set("status", status)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Data []struct {
				ID, Name, URL, Status, DisabledReason string
				EventTypes                            []string
			}
			NextCursor string
		}
		if err := cl.do(ctx, "GET", "/v1/endpoints?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		for _, e := range page.Data {
			st := e.Status
			if e.DisabledReason != "" && st == "disabled" {
				st += " (" + e.DisabledReason + ")"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, st, strings.Join(e.EventTypes, ","), e.URL)
		}
		if cursor = page.NextCursor; cursor == "" {
			return w.Flush()
		}
	}
}

func runDeliveries(ctx context.Context, args []string) error {
	fs := newFlagSet("deliveries", "--endpoint ID | --delivery ID")
	var c clientFlags
	c.register(fs)
	ep := fs.String("endpoint", "", "list this endpoint's recent deliveries, newest first")
	id := fs.String("delivery", "", "show this delivery with every attempt")
	limit := fs.Int("limit", 20, "deliveries to list")
	if err := fs.parse(args); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	switch {
	case *id != "" && *ep == "":
		var d any
		if err := cl.do(ctx, "GET", "/v1/deliveries/"+url.PathEscape(*id), nil, &d); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case *ep == "" || *id != "":
		return errors.New("give --endpoint ID (its deliveries) or --delivery ID (one delivery's attempts)")
	}
	var page struct {
		Data []struct {
			ID, Status      string
			Attempts, Items int
			LastCode        int
			LastAt          time.Time
			NextDue         *time.Time
		}
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	if err := cl.do(ctx, "GET", "/v1/endpoints/"+url.PathEscape(*ep)+"/deliveries?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DELIVERY\tSTATUS\tATTEMPTS\tLAST CODE\tLAST ATTEMPT\tNEXT DUE\tEVENTS")
	for _, r := range page.Data {
		next := "-"
		if r.NextDue != nil && r.Status == "retrying" {
			next = r.NextDue.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", r.ID, r.Status, r.Attempts, r.LastCode, r.LastAt.Format(time.RFC3339), next, r.Items)
	}
	return w.Flush()
}
