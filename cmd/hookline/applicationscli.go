package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline/internal/applications"
)

// runApplications lists, shows, applies and deletes applications through
// the API: reads take any key, writes the operator key.
func runApplications(ctx context.Context, args []string) error {
	subs := "list|show|apply|delete"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || isHelp(args[0]) {
		fmt.Fprintf(os.Stderr, "usage: hookline applications %s [flags]\n\n"+
			"  list                 every application: the default one, then the registered ones\n"+
			"  show ID              one application: its dialect and catalog\n"+
			"  apply PATH...        create or replace the applications of JSON files, or of every *.json\n"+
			"                       in a directory (operator key), e.g. examples/applications/\n"+
			"  delete ID            delete an application no endpoint names (operator key)\n", subs)
		return helpOrUsage(args)
	}
	sub, args := args[0], args[1:]
	var c clientFlags
	fs := newFlagSet("applications "+sub, "[ID|PATH...] --api-key KEY")
	c.register(fs)
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print the API's JSON")
	var schemaDir, appID, appName string
	if sub == "apply" {
		fs.StringVar(&schemaDir, "schema-dir", "", "add or replace the types of application --id from a directory of <type>.schema.json files (a new application gets the default dialect)")
		fs.StringVar(&appID, "id", "", "with --schema-dir: the application's id")
		fs.StringVar(&appName, "name", "", "with --schema-dir: a new application's name (default: the id)")
	}
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	cl, err := c.client()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		var out struct {
			Data []appLine `json:"data"`
		}
		if err := cl.do(ctx, "GET", "/v1/applications", nil, &out); err != nil {
			return err
		}
		if asJSON {
			return printJSON(os.Stdout, out)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tTYPES\tHEADERS\tBATCH\tTIMEOUT\tRETRIES")
		for _, a := range out.Data {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.ID, a.Name, len(a.EventTypes), a.Dialect.HeaderPrefix,
				batchOf(a.Dialect.MaxItems, time.Duration(a.Dialect.MaxWait)), time.Duration(a.Dialect.Timeout), retriesOf(a))
		}
		return w.Flush()
	case "show":
		if len(pos) != 1 {
			return fmt.Errorf("give one application id: hookline applications show ID")
		}
		var out any
		if err := cl.do(ctx, "GET", "/v1/applications/"+url.PathEscape(pos[0]), nil, &out); err != nil {
			return err
		}
		return printJSON(os.Stdout, out)
	case "apply":
		var apps []*applications.Application
		switch {
		case schemaDir != "" && len(pos) > 0:
			return badFlag("schema-dir", "give either application files or --schema-dir, not both")
		case schemaDir != "":
			a, exists, err := fromSchemaDir(ctx, cl, schemaDir, appID, appName)
			if err != nil {
				return err
			}
			if exists {
				return applyTypes(ctx, cl, a)
			}
			apps = append(apps, a)
		case len(pos) == 0:
			return fmt.Errorf("give application files or directories: hookline applications apply examples/applications/")
		default:
			if apps, err = applications.ReadFiles(pos...); err != nil {
				return err
			}
		}
		for _, a := range apps {
			var out appLine
			if err := cl.do(ctx, "PUT", "/v1/applications/"+url.PathEscape(a.ID), a, &out); err != nil {
				return fmt.Errorf("application %s: %w", a.ID, err)
			}
			fmt.Printf("applied %s (%s): %d event types, headers %s, %s, timeout %s\n", out.ID, out.Name, len(out.EventTypes),
				out.Dialect.HeaderPrefix, batchOf(out.Dialect.MaxItems, time.Duration(out.Dialect.MaxWait)), time.Duration(out.Dialect.Timeout))
		}
		return nil
	case "delete":
		if len(pos) != 1 {
			return fmt.Errorf("give one application id: hookline applications delete ID")
		}
		if err := cl.do(ctx, "DELETE", "/v1/applications/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Println("deleted", pos[0])
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: want %s", sub, subs)
}

// appLine is what the list and apply print of an application.
type appLine struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Dialect    dialectLine `json:"dialect"`
	EventTypes []struct {
		Name string `json:"name"`
	} `json:"eventTypes"`
}

type dialectLine struct {
	HeaderPrefix  string     `json:"headerPrefix"`
	MaxItems      int        `json:"maxItems"`
	MaxWait       jsDuration `json:"maxWait"`
	Timeout       jsDuration `json:"timeout"`
	RetrySchedule []string   `json:"retrySchedule"`
	MaxAge        jsDuration `json:"maxAge"`
}

// jsDuration reads the API's "30s" durations.
type jsDuration time.Duration

func (d *jsDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = jsDuration(v)
	return err
}

func batchOf(items int, wait time.Duration) string {
	if items == 1 {
		return "one event per POST"
	}
	return fmt.Sprintf("batches of %d or %s", items, wait)
}

func retriesOf(a appLine) string {
	s := strings.Join(a.Dialect.RetrySchedule, ",")
	if s == "" {
		s = "tiers"
	}
	if a.Dialect.MaxAge > 0 {
		s += fmt.Sprintf(" (give up after %s)", time.Duration(a.Dialect.MaxAge))
	}
	return s
}

// fromSchemaDir builds application id from a directory of schema files.
// An application that exists keeps its name, dialect and other types:
// each file's type is added or replaced on its own, so nothing the
// operator set elsewhere is overwritten by a default.
func fromSchemaDir(ctx context.Context, cl *apiClient, dir, id, name string) (*applications.Application, bool, error) {
	if id == "" {
		return nil, false, badFlag("id", "required with --schema-dir: the application the schemas are the catalog of")
	}
	types, err := applications.TypesFromDir(dir)
	if err != nil {
		return nil, false, badFlag("schema-dir", "%v", err)
	}
	a := &applications.Application{ID: id, Name: cmp.Or(name, id), EventTypes: types}
	if _, err := a.Validate(); err != nil {
		return nil, false, err
	}
	err = cl.do(ctx, "GET", "/v1/applications/"+url.PathEscape(id), nil, nil)
	var ae *apiError
	switch {
	case err == nil:
		return a, true, nil
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return a, false, nil
	}
	return nil, false, err
}

// applyTypes adds or replaces each of a's types in the application that
// exists.
func applyTypes(ctx context.Context, cl *apiClient, a *applications.Application) error {
	for _, t := range a.EventTypes {
		path := "/v1/applications/" + url.PathEscape(a.ID) + "/event-types/" + url.PathEscape(t.Name)
		if err := cl.do(ctx, "PUT", path, t, nil); err != nil {
			return fmt.Errorf("application %s, type %s: %w", a.ID, t.Name, err)
		}
		fmt.Printf("applied %s: %s version %d\n", a.ID, t.Name, t.Version)
	}
	return nil
}
