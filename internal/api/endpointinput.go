package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/payload"
)

// Endpoint limits the API enforces beyond endpoints.Validate.
const (
	maxTimeout  = 60 * time.Second
	maxMaxWait  = 5 * time.Minute
	maxListSize = 100
	// reasonInactive is the DisabledReason of an endpoint its owner turned
	// off, which the API shows as status "inactive" rather than "disabled".
	reasonInactive = "inactivated by user"
)

// duration reads "10s"-style JSON strings.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "10s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"10s\", got %q", s)
	}
	*d = duration(v)
	return nil
}

// endpointInput is a create or patch body; nil fields were not sent.
type endpointInput struct {
	Name, URL, Scheme, Secret, RetryPolicy, Application *string
	SignatureFormat, HeaderPrefix, UserAgent            *string
	RetrySchedule                                       *[]duration
	Auth                                                *authInput
	EventTypes, IgnoreOrigins, IgnoreFields             *[]string
	Active, Verify                                      *bool
	MaxItems, MaxBytes                                  *int
	Timeout, MaxWait, MaxAge                            *duration
	Payload                                             *payloadInput
}

// payloadInput is the payload field: an object of shape and template, no
// other keys, decoded by exact field name (decodeFields).
type payloadInput payload.Spec

func (p *payloadInput) UnmarshalJSON(b []byte) error {
	var s payload.Spec
	if err := decodeFields(b, "payload", map[string]any{"shape": &s.Shape, "template": &s.Template}); err != nil {
		return err
	}
	*p = payloadInput(s)
	return nil
}

func (in *endpointInput) fields() map[string]any {
	return map[string]any{
		"name": &in.Name, "url": &in.URL, "scheme": &in.Scheme, "secret": &in.Secret,
		"retryPolicy": &in.RetryPolicy, "application": &in.Application,
		"eventTypes": &in.EventTypes, "ignoreOrigins": &in.IgnoreOrigins, "ignoreFields": &in.IgnoreFields,
		"active": &in.Active, "verify": &in.Verify, "maxItems": &in.MaxItems, "maxBytes": &in.MaxBytes,
		"timeout": &in.Timeout, "maxWait": &in.MaxWait, "maxAge": &in.MaxAge,
		"signatureFormat": &in.SignatureFormat, "auth": &in.Auth, "payload": &in.Payload,
		"headerPrefix": &in.HeaderPrefix, "userAgent": &in.UserAgent, "retrySchedule": &in.RetrySchedule,
	}
}

// apply copies the fields that change freely onto e; application, scheme
// and secret are the caller's business (fixed at create, or rotated).
func (in *endpointInput) apply(e *endpoints.Endpoint) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = slices.Clone(*v)
		}
	}
	setDur := func(dst *endpoints.Duration, v *duration) {
		if v != nil {
			*dst = endpoints.Duration(*v)
		}
	}
	set(&e.Name, in.Name)
	set(&e.URL, in.URL)
	set(&e.RetryPolicy, in.RetryPolicy)
	set(&e.SignatureFormat, in.SignatureFormat)
	set(&e.HeaderPrefix, in.HeaderPrefix)
	set(&e.UserAgent, in.UserAgent)
	if in.RetrySchedule != nil {
		e.RetrySchedule = nil
		for _, w := range *in.RetrySchedule {
			e.RetrySchedule = append(e.RetrySchedule, endpoints.Duration(w))
		}
	}
	setList(&e.EventTypes, in.EventTypes)
	setList(&e.IgnoreOrigins, in.IgnoreOrigins)
	setList(&e.IgnoreFields, in.IgnoreFields)
	setDur(&e.Timeout, in.Timeout)
	setDur(&e.MaxWait, in.MaxWait)
	setDur(&e.MaxAge, in.MaxAge)
	if in.MaxItems != nil {
		e.MaxItems = *in.MaxItems
	}
	if in.MaxBytes != nil {
		e.MaxBytes = *in.MaxBytes
	}
	if in.Active != nil {
		setActive(e, *in.Active)
	}
	if in.Payload != nil {
		// The whole spec is replaced. An empty one follows the
		// application; "full" is kept, so an endpoint can ask for the
		// envelope where its application's shape is another.
		e.Payload = nil
		if spec := payload.Spec(*in.Payload); spec.Shape != "" || spec.Template != "" {
			e.Payload = &spec
		}
	}
}

// setActive turns an endpoint on or off. Turning one on also lifts an
// automatic disable: the owner says the receiver is fixed.
func setActive(e *endpoints.Endpoint, on bool) {
	e.Disabled, e.DisabledReason = !on, ""
	if !on {
		e.DisabledReason = reasonInactive
	}
}

// checkFields holds e to the API's rules, naming the field at fault.
func (s *Server) checkFields(e *endpoints.Endpoint) error {
	if err := checkName("name", e.Name); err != nil {
		return err
	}
	if len(e.Application) > 200 {
		return badRequest("application", "application must be at most 200 characters")
	}
	if err := s.checkEventTypes(e.Application, e.EventTypes); err != nil {
		return err
	}
	for field, list := range map[string][]string{"ignoreOrigins": e.IgnoreOrigins, "ignoreFields": e.IgnoreFields} {
		if len(list) > 100 || slices.Contains(list, "") {
			return badRequest(field, "%s takes at most 100 non-empty strings", field)
		}
	}
	if t := time.Duration(e.Timeout); t < 0 || t > maxTimeout {
		return badRequest("timeout", "timeout must be at most %s (0: default %s), got %s", maxTimeout, endpoints.DefaultTimeout, t)
	}
	switch {
	case e.MaxItems < 0 || e.MaxItems > endpoints.DefaultMaxItems:
		return badRequest("maxItems", "maxItems must be 1 to %d (0: default %d)", endpoints.DefaultMaxItems, endpoints.DefaultMaxItems)
	case e.MaxBytes < 0 || e.MaxBytes > kafka.MaxDeliveryBytes:
		return badRequest("maxBytes", "maxBytes must be at most %d (0: default %d)", kafka.MaxDeliveryBytes, endpoints.DefaultMaxBytes)
	case e.MaxWait < 0 || time.Duration(e.MaxWait) > maxMaxWait:
		return badRequest("maxWait", "maxWait must be at most %s (0: default %s)", maxMaxWait, endpoints.DefaultMaxWait)
	case e.MaxAge < 0:
		return badRequest("maxAge", "maxAge must not be negative")
	case e.Scheme != "" && e.Scheme != endpoints.SchemeHookline && e.Scheme != endpoints.SchemeStandard:
		return badRequest("scheme", "scheme must be %q or %q", endpoints.SchemeHookline, endpoints.SchemeStandard)
	case e.RetryPolicy != "" && e.RetryPolicy != "any" && e.RetryPolicy != "5xx":
		return badRequest("retryPolicy", `retryPolicy must be "any" or "5xx"`)
	case e.SignatureFormat != "" && e.SignatureFormat != endpoints.SignatureSHA256 && e.SignatureFormat != endpoints.SignatureHex:
		return badRequest("signatureFormat", "signatureFormat must be %q (sha256=<hex>) or %q (bare hex)", endpoints.SignatureSHA256, endpoints.SignatureHex)
	}
	if err := e.Validate(); err != nil {
		return validateErr(e.ID, err)
	}
	return nil
}

// validateErr turns endpoints.Validate's message into a named field.
func validateErr(id string, err error) error {
	msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("%s %q: ", endpoints.ErrInvalid, id))
	field, _, _ := strings.Cut(msg, ": ")
	if field == "secrets" {
		field = "secret"
	}
	return badRequest(field, "%s", msg)
}

// checkEventTypes wants at least one type, each in the catalog or a
// pattern ("task.*", "*") that matches some type of it.
func (s *Server) checkEventTypes(app string, types []string) error {
	if len(types) == 0 {
		return badRequest("eventTypes", `eventTypes needs at least one type, a pattern such as "task.*", or "*"`)
	}
	cat := s.catalogOf(app)
	where := "the catalog"
	if cat != s.cfg.Catalog {
		where = "the catalog of application " + app
	}
	known := cat.Types()
	for _, p := range types {
		prefix, isPattern := strings.CutSuffix(p, "*")
		if strings.Contains(prefix, "*") || (isPattern && prefix != "" && !strings.HasSuffix(prefix, ".")) {
			return badRequest("eventTypes", "pattern %q: use an exact type, a prefix ending in .* such as task.*, or *", p)
		}
		if !isPattern && cat.Has(p) {
			continue
		}
		if isPattern && slices.ContainsFunc(known, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
			continue
		}
		return badRequest("eventTypes", "event type %q matches nothing in %s (known: %s)", p, where, strings.Join(known, ", "))
	}
	return nil
}
