package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/hookline/hookline/internal/demo"
)

// registerApps creates or replaces each demo application through the API
// with the operator key. A PUT of what an earlier run registered changes
// nothing a receiver sees, so restarts on the same data dir repeat it.
func (d *devDemo) registerApps(ctx context.Context, apiURL, operatorKey string) error {
	cl := newAPIClient(apiURL, operatorKey)
	for _, a := range d.apps {
		var out struct {
			EventTypes []struct{ Name string } `json:"eventTypes"`
		}
		if err := cl.do(ctx, "PUT", "/v1/applications/"+url.PathEscape(a.id()), a.Application, &out); err != nil {
			return fmt.Errorf("%s: %w", a.id(), err)
		}
		fmt.Printf("application %s (%s): %d event types, registered through the API\n", a.id(), a.Application.Name, len(out.EventTypes))
	}
	return nil
}

// demoEndpoint is one endpoint the demo makes for a tenant.
type demoEndpoint struct {
	tenant string
	body   map[string]any
}

// endpoints are the demo's endpoints, each naming its application so it
// gets that application's events only, in that application's dialect:
// per tenant one Momentum Studio endpoint taking batches and one
// Momentumpro endpoint; and, for the first tenant, a Momentum Studio
// endpoint of task changes that overrides the dialect's batching with
// one event per POST.
func (d *devDemo) endpoints() []demoEndpoint {
	var eps []demoEndpoint
	for _, a := range d.apps {
		for _, t := range demo.Tenants {
			name := "demo batches" // the name of earlier runs' endpoint
			if a.id() != demo.MomentumStudioID {
				name = "demo " + a.id()
			}
			body := map[string]any{"name": name, "application": a.id(), "url": d.url + a.path + "?tenant=" + t,
				"secret": a.secret, "eventTypes": []string{"*"}}
			if a.id() == demo.MomentumStudioID {
				body["ignoreFields"] = []string{"updatedUtc"}
			}
			eps = append(eps, demoEndpoint{t, body})
		}
		if a.id() == demo.MomentumStudioID {
			eps = append(eps, demoEndpoint{demo.Tenants[0], map[string]any{"name": "demo task events", "application": a.id(),
				"url": d.url + a.path + "?single", "secret": a.secret, "maxItems": 1, "eventTypes": []string{"task.*"}}})
		}
	}
	return eps
}

// createEndpoints creates the demo's endpoints through the API, each
// checked by its test ping. Endpoints an earlier run made (same names)
// are kept, made to fit this run (reconcile).
func (d *devDemo) createEndpoints(ctx context.Context, apiURL string, keys map[string]string) error {
	for _, e := range d.endpoints() {
		cl := newAPIClient(apiURL, keys[e.tenant])
		err := cl.do(ctx, "POST", "/v1/endpoints", e.body, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			err = reconcile(ctx, cl, e.body)
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", e.tenant, e.body["name"], err)
		}
	}
	return nil
}

// reconcile makes the endpoint an earlier run made under body's name fit
// body. An endpoint's application is fixed when it is made, so one of
// another application (made before the demo had applications, it takes
// every application's events) is deleted and made again; one of the
// same application is pointed at this run's receiver, which listens on a
// new port.
func reconcile(ctx context.Context, cl *apiClient, body map[string]any) error {
	var page struct {
		Data []struct{ ID, Name, URL, Application string }
	}
	if err := cl.do(ctx, "GET", "/v1/endpoints?limit=100", nil, &page); err != nil {
		return err
	}
	for _, e := range page.Data {
		switch {
		case e.Name != body["name"]:
		case e.Application != body["application"]:
			if err := cl.do(ctx, "DELETE", "/v1/endpoints/"+e.ID, nil, nil); err != nil {
				return err
			}
			return cl.do(ctx, "POST", "/v1/endpoints", body, nil)
		case e.URL != body["url"]:
			return cl.do(ctx, "PATCH", "/v1/endpoints/"+e.ID, map[string]any{"url": body["url"], "active": true}, nil)
		}
	}
	return nil
}
