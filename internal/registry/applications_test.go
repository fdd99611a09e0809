package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

func peopleApp(timeout time.Duration) *applications.Application {
	return &applications.Application{ID: "people", Name: "People",
		Dialect: endpoints.Dialect{HeaderPrefix: "X-People", MaxItems: 1, Timeout: endpoints.Duration(timeout), RetryPolicy: "5xx"},
		EventTypes: []applications.EventType{
			{Name: "employee.created", Version: 1, Schema: []byte(`{"type":"object","required":["employee"]}`)},
			{Name: "leave.approved", Version: 1, Schema: []byte(`{"type":"object","required":["leave"]}`)},
		}}
}

// Every Store following the topic holds the same applications and
// publishes their endpoints with the application's dialect; a change of
// the dialect reaches the endpoints without a write to them.
func TestApplicationsFollowedWithTheirEndpoints(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		ctx := context.Background()
		if _, created, err := a.PutApplication(ctx, peopleApp(6*time.Second)); err != nil || !created {
			t.Fatalf("put: created %v, %v", created, err)
		}
		ep := endpoint("hr", "acme")
		ep.Application, ep.EventTypes = "people", []string{"employee.*"}
		mustCreate(t, a, ep)
		eventually(t, func() bool { e := b.Get("hr"); return e != nil && e.Limits().Timeout == 6*time.Second }, "b resolves the application's timeout")
		if got := b.Get("hr").Resolved(); got.HeaderPrefix != "X-People" || got.MaxItems != 1 || got.RetryPolicy != "5xx" {
			t.Fatalf("b resolves %+v", got)
		}
		if c := b.Catalog("people"); c == nil || !c.Has("leave.approved") || c.Has("task.created") {
			t.Fatalf("b's catalog of people: %v", c)
		}
		if _, _, err := a.PutApplication(ctx, peopleApp(20*time.Second)); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return b.Get("hr").Limits().Timeout == 20*time.Second }, "the new timeout reaches b's endpoint")

		// The catalog bounds the endpoint's subscriptions.
		bad := endpoint("hr2", "acme")
		bad.Application, bad.EventTypes = "people", []string{"task.created"}
		if _, err := a.Create(ctx, bad); !errors.Is(err, endpoints.ErrInvalid) {
			t.Fatalf("subscribing to a type people lacks: %v", err)
		}
		if _, err := a.Update(ctx, "hr", func(e *endpoints.Endpoint) error { e.EventTypes = []string{"payroll.*"}; return nil }); !errors.Is(err, endpoints.ErrInvalid) {
			t.Fatalf("patching to a pattern people lacks: %v", err)
		}
		// In use: neither deleted nor broken.
		if err := a.DeleteApplication(ctx, "people"); !errors.Is(err, ErrAppInUse) {
			t.Fatalf("delete in use: %v", err)
		}
		drop := peopleApp(time.Second)
		drop.EventTypes = drop.EventTypes[1:]
		if _, _, err := a.PutApplication(ctx, drop); !errors.Is(err, applications.ErrBreaking) {
			t.Fatalf("dropping a subscribed type: %v", err)
		}
		if err := a.Delete(ctx, "hr"); err != nil {
			t.Fatal(err)
		}
		if err := a.DeleteApplication(ctx, "people"); err != nil {
			t.Fatalf("delete unused: %v", err)
		}
		eventually(t, func() bool { _, ok := b.Application("people"); return !ok && b.Catalog("people") == nil }, "b drops the application")

		// A Store opened later loads the same state from the log.
		if _, _, err := a.PutApplication(ctx, peopleApp(7*time.Second)); err != nil {
			t.Fatal(err)
		}
		ep3 := endpoint("hr3", "acme")
		ep3.Application = "people"
		mustCreate(t, a, ep3)
		c := openStore(t, k, topic, keyK1)
		if got := c.Get("hr3"); got == nil || got.Limits().Timeout != 7*time.Second {
			t.Fatalf("a new Store's hr3: %v", got)
		}
	})
}
