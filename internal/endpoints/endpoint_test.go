package endpoints

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/envelope"
)

func TestValidateNamesTheField(t *testing.T) {
	ok := Endpoint{ID: "e", TenantID: "t", URL: "https://example.com/hook", Secrets: []string{"s"}}
	cases := map[string]func(*Endpoint){
		"id":          func(e *Endpoint) { e.ID = "" },
		"tenantId":    func(e *Endpoint) { e.TenantID = "" },
		"secrets":     func(e *Endpoint) { e.Secrets = nil },
		"url":         func(e *Endpoint) { e.URL = "ftp://example.com" },
		"scheme":      func(e *Endpoint) { e.Scheme = "md5" },
		"eventTypes":  func(e *Endpoint) { e.EventTypes = []string{"*.created"} },
		"retryPolicy": func(e *Endpoint) { e.RetryPolicy = "4xx" },
		"maxItems":    func(e *Endpoint) { e.MaxItems = -1 },
	}
	for field, mod := range cases {
		e := ok
		mod(&e)
		err := e.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	userinfo := ok
	userinfo.URL = "https://user:pw@example.com/"
	if err := userinfo.Validate(); err == nil {
		t.Error("credentials in the URL accepted")
	}
}

func TestWants(t *testing.T) {
	e := Endpoint{TenantID: "t", EventTypes: []string{"task.*", "project.deleted"}, IgnoreOrigins: []string{"zapier"},
		IgnoreFields: []string{"seenUtc"}}
	cases := []struct {
		m    envelope.Meta
		want bool
	}{
		{envelope.Meta{TenantID: "t", Type: "task.created"}, true},
		{envelope.Meta{TenantID: "t", Type: "project.deleted"}, true},
		{envelope.Meta{TenantID: "t", Type: "project.created"}, false},
		{envelope.Meta{TenantID: "other", Type: "task.created"}, false},
		{envelope.Meta{TenantID: "t", Type: "task.created", Origin: "zapier"}, false},
		{envelope.Meta{TenantID: "t", Type: "task.updated", Changed: []string{"seenUtc"}}, false},
		{envelope.Meta{TenantID: "t", Type: "task.updated", Changed: []string{"seenUtc", "status"}}, true},
		{envelope.Meta{TenantID: "t", Type: "task.updated", Changed: []string{}}, false},
		{envelope.Meta{TenantID: "t", Type: "task.updated"}, true}, // changed fields unknown: send
	}
	for _, c := range cases {
		if got := e.Wants(&c.m); got != c.want {
			t.Errorf("%+v: Wants = %v", c.m, got)
		}
	}
	e.Disabled = true
	if e.Wants(&envelope.Meta{TenantID: "t", Type: "task.created"}) {
		t.Error("disabled endpoint wants events")
	}
}
