package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// hrApp is an application of two types with a dialect of its own.
func hrApp() map[string]any {
	employee := map[string]any{"type": "object", "required": []any{"employee"}, "properties": map[string]any{
		"employee": map[string]any{"type": "object", "required": []any{"id"}, "properties": map[string]any{
			"id": map[string]any{"type": "integer"}, "name": map[string]any{"type": "string"}}}}}
	leave := map[string]any{"type": "object", "required": []any{"leave"}, "properties": map[string]any{
		"leave": map[string]any{"type": "object", "required": []any{"id", "days"}, "properties": map[string]any{
			"id": map[string]any{"type": "integer"}, "days": map[string]any{"type": "integer"}}}}}
	return map[string]any{
		"name": "People", "description": "HR events",
		"dialect": map[string]any{"headerPrefix": "X-People", "userAgent": "People-Webhooks/2.0", "signatureFormat": "hex",
			"maxItems": 1, "timeout": "6s", "retrySchedule": []any{"1m", "5m"}, "maxAge": "4h", "retryPolicy": "5xx",
			"payload": map[string]any{"shape": "legacy"}},
		"eventTypes": []any{
			map[string]any{"name": "employee.created", "description": "An employee is hired.", "version": 1, "schema": employee},
			map[string]any{"name": "leave.approved", "description": "A leave request is approved.", "version": 1, "schema": leave},
		},
	}
}

func TestApplicationsCatalogDialectAndRules(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 1)
		e := newEnv(t, k, func(c *api.Config) {
			p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: topic, Applications: c.Registry.(producer.Catalogs)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close(context.Background()) })
			c.Publisher = p
		})
		_, key := e.tenant("acme")
		rc := newReceiver(t)

		// Only the operator writes applications.
		e.do("PUT", "/v1/applications/people", key, hrApp()).want(t, 403)
		e.do("PUT", "/v1/applications/people", e.operator, hrApp()).want(t, 201)
		e.do("PUT", "/v1/applications/people", e.operator, hrApp()).want(t, 200)

		// Its catalog is listed by itself and offered to endpoints.
		types := e.do("GET", "/v1/event-types?application=people", key, nil).want(t, 200)
		var list struct {
			Data []struct {
				Type    string `json:"type"`
				Version int    `json:"version"`
			} `json:"data"`
		}
		_ = json.Unmarshal(types.Body, &list)
		if len(list.Data) != 2 || list.Data[0].Type != "employee.created" || list.Data[1].Version != 1 {
			t.Fatalf("event types of people: %s", types.Body)
		}
		e.do("GET", "/v1/event-types?application=nope", key, nil).want(t, 404)

		// An endpoint of the application takes its types and its dialect.
		ep := e.do("POST", "/v1/endpoints", key, map[string]any{"name": "hr", "url": rc.URL(), "application": "people",
			"eventTypes": []any{"employee.*"}, "verify": true}).want(t, 201)
		for field, want := range map[string]any{"timeout": "6s", "maxItems": 1.0, "headerPrefix": "X-People",
			"userAgent": "People-Webhooks/2.0", "signatureFormat": "hex", "retryPolicy": "5xx", "maxAge": "4h0m0s"} {
			if ep.JSON[field] != want {
				t.Errorf("endpoint %s = %v, want the application's %v", field, ep.JSON[field], want)
			}
		}
		// The verify ping spoke the application's dialect.
		ping := rc.got()
		if len(ping) != 1 || ping[0].Header.Get("User-Agent") != "People-Webhooks/2.0" || ping[0].Header.Get("X-People-Signature") == "" ||
			strings.HasPrefix(ping[0].Header.Get("X-People-Signature"), "sha256=") {
			t.Fatalf("test ping headers: %v", ping)
		}
		// Its own field wins over the application's.
		own := e.do("POST", "/v1/endpoints", key, map[string]any{"name": "hr2", "url": rc.URL(), "application": "people",
			"eventTypes": []any{"leave.approved"}, "timeout": "15s", "verify": false}).want(t, 201)
		if fmt.Sprint(ep.JSON["own"]) != "[]" || fmt.Sprint(own.JSON["own"]) != "[timeout]" {
			t.Fatalf("own fields: %v and %v, want [] and [timeout]", ep.JSON["own"], own.JSON["own"])
		}
		if own.JSON["timeout"] != "15s" || own.JSON["headerPrefix"] != "X-People" {
			t.Fatalf("own timeout over the application's: %s", own.Body)
		}
		// An endpoint may ask for the envelope where its application's shape is legacy.
		full := e.do("PATCH", "/v1/endpoints/"+own.str("id"), key, map[string]any{"payload": map[string]any{"shape": "full"}, "verify": false}).want(t, 200)
		if shape := full.JSON["payload"].(map[string]any)["shape"]; shape != "full" || e.store.Get(own.str("id")).Resolved().Payload.Shape != "full" {
			t.Fatalf("payload full over the application's legacy: %v", shape)
		}

		// Types the application lacks are refused, naming the field.
		e.do("POST", "/v1/endpoints", key, map[string]any{"name": "x", "url": rc.URL(), "application": "people",
			"eventTypes": []any{"task.created"}, "verify": false}).wantErr(t, 400, "eventTypes")
		e.do("POST", "/v1/endpoints", key, map[string]any{"name": "y", "url": rc.URL(), "application": "people",
			"eventTypes": []any{"payroll.*"}, "verify": false}).wantErr(t, 400, "eventTypes")

		// Ingest holds the event to its application's catalog.
		e.do("POST", "/v1/events", key, map[string]any{"type": "leave.approved", "application": "people",
			"data": map[string]any{"leave": map[string]any{"id": 7, "days": 5}}}).want(t, 202)
		e.do("POST", "/v1/events", key, map[string]any{"type": "leave.approved", "application": "people",
			"data": map[string]any{"leave": map[string]any{"id": 7}}}).wantErr(t, 400, "/data/leave/days")
		e.do("POST", "/v1/events", key, map[string]any{"type": "leave.approved",
			"data": map[string]any{"leave": map[string]any{"id": 7, "days": 5}}}).wantErr(t, 400, "/type")

		// Bad applications: each a 400 naming the field, nothing changed.
		bad := func(field string, mod func(a map[string]any)) {
			t.Helper()
			a := hrApp()
			mod(a)
			e.do("PUT", "/v1/applications/people", e.operator, a).wantErr(t, 400, field)
		}
		bad("eventTypes[0].schema", func(a map[string]any) {
			a["eventTypes"].([]any)[0].(map[string]any)["schema"] = map[string]any{"type": "objekt"}
		})
		bad("eventTypes[1].name", func(a map[string]any) { a["eventTypes"].([]any)[1].(map[string]any)["name"] = "Leave Approved" })
		bad("dialect.timeout", func(a map[string]any) { a["dialect"].(map[string]any)["timeout"] = "10m" })
		bad("dialect.headerPrefix", func(a map[string]any) { a["dialect"].(map[string]any)["headerPrefix"] = "Acme" })
		bad("dialect.retrySchedule", func(a map[string]any) { a["dialect"].(map[string]any)["retrySchedule"] = []any{"5m", "1m"} })
		e.do("PUT", "/v1/applications/default", e.operator, hrApp()).wantErr(t, 400, "id")
		e.do("PUT", "/v1/applications/people", e.operator, `{"name":"People","name":"Again"}`).want(t, 400)

		// A breaking change to a subscribed type needs a new version.
		breaking := hrApp()
		schema := breaking["eventTypes"].([]any)[0].(map[string]any)["schema"].(map[string]any)
		schema["required"] = []any{"employee", "manager"}
		e.do("PUT", "/v1/applications/people", e.operator, breaking).wantErr(t, 409, "eventTypes[0].schema")
		breaking["eventTypes"].([]any)[0].(map[string]any)["version"] = 2
		e.do("PUT", "/v1/applications/people", e.operator, breaking).want(t, 200)
		// A compatible change (a new optional field) keeps the version.
		widened := hrApp()
		widened["eventTypes"].([]any)[0].(map[string]any)["version"] = 2
		props := widened["eventTypes"].([]any)[0].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)
		props["team"] = map[string]any{"type": "string"}
		e.do("PUT", "/v1/applications/people", e.operator, widened).want(t, 200)
		// One type at a time: a description is no breaking change.
		e.do("PUT", "/v1/applications/people/event-types/leave.approved", e.operator, map[string]any{"description": "Approved leave.",
			"version": 1, "schema": hrApp()["eventTypes"].([]any)[1].(map[string]any)["schema"]}).want(t, 200)
		got := e.do("GET", "/v1/applications/people", key, nil).want(t, 200)
		if !strings.Contains(string(got.Body), `"Approved leave."`) || !strings.Contains(string(got.Body), `"schema"`) {
			t.Fatalf("application with its schemas: %s", got.Body)
		}
		// Removing a subscribed type is refused.
		dropped := hrApp()
		dropped["eventTypes"] = dropped["eventTypes"].([]any)[1:]
		e.do("PUT", "/v1/applications/people", e.operator, dropped).wantErr(t, 409, "eventTypes")

		// An application endpoints name cannot be deleted.
		e.do("DELETE", "/v1/applications/people", e.operator, nil).wantErr(t, 409, "id")
		for _, id := range []string{ep.str("id"), own.str("id")} {
			e.do("DELETE", "/v1/endpoints/"+id, key, nil).want(t, 204)
		}
		waitFor(t, func() bool { return len(e.store.ForTenant(tenantOf(t, e, key))) == 0 })
		e.do("DELETE", "/v1/applications/people", e.operator, nil).want(t, 204)
		e.do("GET", "/v1/applications/people", key, nil).want(t, 404)
	})
}

// A dialect change reaches the endpoints of the application at once: they
// store none of it.
func TestApplicationDialectChangeReachesItsEndpoints(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	e.do("PUT", "/v1/applications/people", e.operator, hrApp()).want(t, 201)
	ep := e.do("POST", "/v1/endpoints", key, map[string]any{"name": "hr", "url": rc.URL(), "application": "people",
		"eventTypes": []any{"*"}, "verify": false}).want(t, 201)
	a := hrApp()
	a["dialect"].(map[string]any)["timeout"] = "20s"
	e.do("PUT", "/v1/applications/people", e.operator, a).want(t, 200)
	got := e.do("GET", "/v1/endpoints/"+ep.str("id"), key, nil).want(t, 200)
	if got.JSON["timeout"] != "20s" {
		t.Fatalf("after the application's timeout changed: %s", got.Body)
	}
	if l := e.store.Get(ep.str("id")).Limits(); l.Timeout != 20*time.Second || l.MaxItems != 1 {
		t.Fatalf("pipeline limits %+v, want the application's 20s and 1 item", l)
	}
	apps := e.do("GET", "/v1/applications", key, nil).want(t, 200)
	var out struct {
		Data []struct {
			ID      string `json:"id"`
			Default bool   `json:"default"`
			Dialect struct {
				MaxItems int    `json:"maxItems"`
				Timeout  string `json:"timeout"`
			} `json:"dialect"`
		} `json:"data"`
	}
	_ = json.Unmarshal(apps.Body, &out)
	if len(out.Data) != 2 || !out.Data[0].Default || out.Data[0].Dialect.MaxItems != 10000 || out.Data[1].ID != "people" || out.Data[1].Dialect.Timeout != "20s" {
		t.Fatalf("applications: %s", apps.Body)
	}
}
