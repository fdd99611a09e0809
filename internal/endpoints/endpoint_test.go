package endpoints

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/payload"
)

func TestValidateNamesTheField(t *testing.T) {
	ok := Endpoint{ID: "e", TenantID: "t", URL: "https://example.com/hook", Secrets: []string{"s"}}
	cases := map[string]func(*Endpoint){
		"id":            func(e *Endpoint) { e.ID = "" },
		"tenantId":      func(e *Endpoint) { e.TenantID = "" },
		"secrets":       func(e *Endpoint) { e.Secrets = nil },
		"url":           func(e *Endpoint) { e.URL = "ftp://example.com" },
		"scheme":        func(e *Endpoint) { e.Scheme = "md5" },
		"eventTypes":    func(e *Endpoint) { e.EventTypes = []string{"*.created"} },
		"retryPolicy":   func(e *Endpoint) { e.RetryPolicy = "4xx" },
		"maxItems":      func(e *Endpoint) { e.MaxItems = -1 },
		"name":          func(e *Endpoint) { e.Name = "line\nbreak" },
		"application":   func(e *Endpoint) { e.Application = strings.Repeat("a", 201) },
		"payload.shape": func(e *Endpoint) { e.Payload = &payload.Spec{Shape: "skinny"} },
		"payload.template": func(e *Endpoint) {
			e.Payload = &payload.Spec{Shape: payload.ShapeTemplate, Template: `{"text": {{jsonStr .type}`}
		},
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
	labelled := ok
	labelled.Name, labelled.Application = "Zapier – prod", "billing"
	if err := labelled.Validate(); err != nil {
		t.Fatalf("name and application: %v", err)
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
	// An endpoint of one application receives that application's events only.
	e.Application = "tasks"
	for app, want := range map[string]bool{"tasks": true, "budgets": false, "": false} {
		if got := e.Wants(&envelope.Meta{TenantID: "t", Type: "task.created", Application: app}); got != want {
			t.Errorf("endpoint of application tasks, event of %q: Wants = %v", app, got)
		}
	}
	e.Application = ""
	if !e.Wants(&envelope.Meta{TenantID: "t", Type: "task.created", Application: "budgets"}) {
		t.Error("an endpoint of no application refuses an application's event")
	}
	e.Disabled = true
	if e.Wants(&envelope.Meta{TenantID: "t", Type: "task.created"}) {
		t.Error("disabled endpoint wants events")
	}
}

// TestNonCanonicalIPHostsRefused: hosts that C resolvers read as IPv4
// addresses in other forms are refused at load with the form named, and
// canonical addresses and names still pass.
func TestNonCanonicalIPHostsRefused(t *testing.T) {
	refused := map[string]string{
		"2130706433":        "decimal",
		"0x7f000001":        "hexadecimal",
		"0177.0.0.1":        "octal",
		"127.1":             "shortened",
		"127.0.1":           "shortened",
		"0x7f.1":            "hexadecimal",
		"2130706433:8080":   "decimal",
		"0177.0.0.01:443":   "octal",
		"10.0.0.010":        "octal",
		"3232235777.":       "decimal",
		"0X7F.0X0.0X0.0X01": "hexadecimal",
	}
	for host, form := range refused {
		e := Endpoint{ID: "e", TenantID: "t", URL: "https://" + host + "/hook", Secrets: []string{"s"}}
		err := e.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), form+" form") || !strings.Contains(err.Error(), "url") {
			t.Errorf("%s: got %v, want a url error naming the %s form", host, err, form)
		}
	}
	for _, host := range []string{"127.0.0.1", "203.0.113.7:8443", "[::1]", "example.com", "1.example.com", "0x.example.com", "10.0.0.1"} {
		e := Endpoint{ID: "e", TenantID: "t", URL: "https://" + host + "/hook", Secrets: []string{"s"}}
		if err := e.Validate(); err != nil {
			t.Errorf("%s refused: %v", host, err)
		}
	}
}

func TestMaxBytesCappedToTheRetryTopics(t *testing.T) {
	e := Endpoint{ID: "e", TenantID: "t", URL: "https://example.com/hook", Secrets: []string{"s"}, MaxBytes: 64 << 20}
	if err := e.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "maxBytes") {
		t.Fatalf("64 MiB maxBytes: %v, want a maxBytes error", err)
	}
	e.MaxBytes = DefaultMaxBytes
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEndpointPrintsWithoutSecrets(t *testing.T) {
	e := &Endpoint{ID: "e1", TenantID: "t-1", URL: "https://example.com/h", Secrets: []string{"whsec_topsecret"}}
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%v", e)} {
		if strings.Contains(s, "topsecret") || !strings.Contains(s, "e1") {
			t.Fatalf("printed endpoint: %s", s)
		}
	}
}
