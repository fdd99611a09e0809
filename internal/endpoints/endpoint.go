// Package endpoints describes customer endpoints (where deliveries go, how
// they are signed, authenticated and batched, which events they want) and
// the rules an event is matched to them by, and holds a file-backed Set of
// them. The dispatcher and the retrier look endpoints up through Registry
// (by tenant, by id, and Disable on a 410), which the Set and the
// Kafka-backed registry (internal/registry) both implement, held to the
// same behaviour by the conformance suite in endpointstest.
package endpoints

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookline/hookline/internal/egress"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/payload"
)

// Signing schemes.
const (
	// SchemeHookline signs the raw body: X-<Prefix>-Signature: sha256=<hex>.
	SchemeHookline = "hookline"
	// SchemeStandard is Standard Webhooks v1.
	SchemeStandard = "standard-webhooks"
)

// Batch defaults: a batch is sealed at 10,000 events or 30 s after its
// first, whichever comes first, so a receiver gets few large requests
// while events flow and waits at most half a minute when they trickle.
const (
	DefaultMaxItems = 10_000
	DefaultMaxWait  = 30 * time.Second
	DefaultMaxBytes = 5 << 20
	DefaultTimeout  = 10 * time.Second
)

// Duration is a time.Duration that reads "30s" in JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %s: want e.g. \"30s\"", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// Endpoint is one customer URL and what it receives.
type Endpoint struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is the tenant's label for the endpoint. Optional; a registry
	// keeps non-empty names unique within a tenant.
	Name string `json:"name,omitempty"`
	// Application is the source application whose events the endpoint
	// receives (events name it in "application" and hl-application).
	// Empty: every application's.
	Application string `json:"application,omitempty"`
	URL         string `json:"url"`
	// Secrets sign deliveries; the first is current. With SchemeStandard
	// every secret signs during a rotation overlap ("whsec_" + base64).
	Secrets []string `json:"secrets"`
	// RotatedUntil is when the older secrets in Secrets[1:] stop signing.
	// Zero: no rotation overlap is running.
	RotatedUntil time.Time `json:"rotatedUntil,omitzero"`
	// Scheme is SchemeHookline (default) or SchemeStandard.
	Scheme string `json:"scheme,omitempty"`
	// SignatureFormat is the hookline scheme's signature value:
	// SignatureSHA256 ("sha256=<hex>", default) or SignatureHex (bare hex).
	SignatureFormat string `json:"signatureFormat,omitempty"`
	// Auth is how deliveries authenticate to the receiver; nil: none.
	// Its type is fixed at create.
	Auth *Auth `json:"auth,omitempty"`
	// EventTypes are exact types or prefix patterns ("task.*"); "*" or
	// empty matches every type.
	EventTypes []string `json:"eventTypes,omitempty"`
	// IgnoreOrigins: events written by these origins are not sent (stops
	// loops when the receiver writes back through our API).
	IgnoreOrigins []string `json:"ignoreOrigins,omitempty"`
	// IgnoreFields: an update whose changed fields all lie here is not sent.
	IgnoreFields []string `json:"ignoreFields,omitempty"`
	// Disabled endpoints receive nothing.
	Disabled bool `json:"disabled,omitempty"`
	// DisabledReason says why, e.g. "endpoint answered 410 Gone" or
	// "inactivated by user".
	DisabledReason string `json:"disabledReason,omitempty"`
	// MaxItems per delivery; 1 sends each envelope alone. Default 10,000.
	MaxItems int `json:"maxItems,omitempty"`
	// MaxWait seals a batch this long after its first item. Default 30 s.
	MaxWait Duration `json:"maxWait,omitempty"`
	// MaxBytes caps a delivery body. Default 5 MiB.
	MaxBytes int `json:"maxBytes,omitempty"`
	// Timeout of one POST. Default 10 s.
	Timeout Duration `json:"timeout,omitempty"`
	// RetryPolicy is "any" (retry every non-2xx; default) or "5xx" (retry
	// 5xx, 408, 429 and timeouts; other 4xx are final).
	RetryPolicy string `json:"retryPolicy,omitempty"`
	// MaxAge dead-letters a delivery this long after its first attempt,
	// whatever tier it is in. Default 0: the retry schedule decides alone.
	MaxAge Duration `json:"maxAge,omitempty"`
	// Payload is the body's shape: nil or "full" sends the envelope as
	// published (default); see package payload for thin, legacy and
	// template.
	Payload *payload.Spec `json:"payload,omitempty"`
	// HeaderPrefix, UserAgent and RetrySchedule override the application's
	// (see Dialect); empty: the application's, then the process defaults.
	HeaderPrefix  string     `json:"headerPrefix,omitempty"`
	UserAgent     string     `json:"userAgent,omitempty"`
	RetrySchedule []Duration `json:"retrySchedule,omitempty"`
	// AppDialect is the dialect of the endpoint's application, attached by
	// the registry when it publishes the endpoint and never stored with
	// it: the endpoint's own fields above override it (Resolved).
	AppDialect *Dialect `json:"-"`
	// CreatedAt and UpdatedAt are set by the registry; a file leaves them zero.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Label limits: names and applications show in dashboards and logs, so
// they stay short and printable.
const maxLabelLen = 200

// ErrInvalid marks an endpoint that fails validation.
var ErrInvalid = errors.New("invalid endpoint")

// Validate checks the fields and names the first bad one.
func (e *Endpoint) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w %q: %s: %s", ErrInvalid, e.ID, field, fmt.Sprintf(format, a...))
	}
	switch {
	case e.ID == "":
		return bad("id", "required")
	case e.TenantID == "":
		return bad("tenantId", "required")
	case len(e.Secrets) == 0 || e.Secrets[0] == "":
		return bad("secrets", "at least one signing secret is required")
	case e.Scheme != "" && e.Scheme != SchemeHookline && e.Scheme != SchemeStandard:
		return bad("scheme", "want %q or %q, got %q", SchemeHookline, SchemeStandard, e.Scheme)
	case e.RetryPolicy != "" && e.RetryPolicy != "any" && e.RetryPolicy != "5xx":
		return bad("retryPolicy", "want \"any\" or \"5xx\", got %q", e.RetryPolicy)
	case e.SignatureFormat != "" && e.SignatureFormat != SignatureSHA256 && e.SignatureFormat != SignatureHex:
		return bad("signatureFormat", "want %q or %q, got %q", SignatureSHA256, SignatureHex, e.SignatureFormat)
	case e.SignatureFormat == SignatureHex && e.Scheme == SchemeStandard:
		return bad("signatureFormat", "%q applies to the %s scheme only", SignatureHex, SchemeHookline)
	case e.MaxItems < 0 || e.MaxBytes < 0 || e.MaxWait < 0 || e.Timeout < 0 || e.MaxAge < 0:
		return bad("maxItems/maxBytes/maxWait/timeout/maxAge", "must not be negative")
	}
	own := e.own()
	own.Payload, own.MaxItems, own.MaxWait, own.Timeout, own.MaxBytes = nil, 0, 0, 0, 0 // checked below or by the API's own bounds
	if err := own.Validate(); err != nil {
		de := err.(*DialectError)
		return bad(de.Field, "%s", de.Reason)
	}
	if field, msg := e.Auth.validate(); field != "" {
		return bad(field, "%s", msg)
	}
	for _, l := range []struct{ field, v string }{{"name", e.Name}, {"application", e.Application}} {
		if len(l.v) > maxLabelLen || !utf8.ValidString(l.v) || strings.IndexFunc(l.v, unicode.IsControl) >= 0 {
			return bad(l.field, "at most %d bytes of printable UTF-8", maxLabelLen)
		}
	}
	if _, err := egress.CheckForm(e.URL); err != nil {
		return bad("url", "%v", err)
	}
	if e.MaxBytes > kafka.MaxDeliveryBytes {
		return bad("maxBytes", "%d is more than the %d bytes a retry topic accepts; use at most %d", e.MaxBytes, kafka.MaxDeliveryBytes, kafka.MaxDeliveryBytes)
	}
	var se *payload.SpecError
	if err := e.Payload.Validate(); errors.As(err, &se) {
		return bad("payload."+se.Field, "%s", se.Reason)
	}
	for _, p := range e.EventTypes {
		if p == "" || strings.Count(p, "*") > 1 || (strings.Contains(p, "*") && !strings.HasSuffix(p, "*")) {
			return bad("eventTypes", "pattern %q: use an exact type, a prefix like task.*, or *", p)
		}
	}
	return nil
}

// Limits are an endpoint's batch limits and POST timeout, defaults applied.
type Limits struct {
	// MaxItems per delivery (default DefaultMaxItems).
	MaxItems int
	// MaxWait seals a batch this long after its first item (default DefaultMaxWait).
	MaxWait time.Duration
	// MaxBytes caps a delivery body (default DefaultMaxBytes).
	MaxBytes int
	// Timeout of one POST (default DefaultTimeout).
	Timeout time.Duration
}

// Limits returns the batch limits and timeout with defaults applied.
func (e *Endpoint) Limits() Limits {
	d := e.Resolved()
	l := Limits{MaxItems: d.MaxItems, MaxWait: time.Duration(d.MaxWait), MaxBytes: d.MaxBytes, Timeout: time.Duration(d.Timeout)}
	if l.MaxItems == 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxWait == 0 {
		l.MaxWait = DefaultMaxWait
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// Wants reports whether an event with these routing fields goes to e.
func (e *Endpoint) Wants(m *envelope.Meta) bool {
	if e.Disabled || e.TenantID != m.TenantID || !e.matchesType(m.Type) {
		return false
	}
	if e.Application != "" && e.Application != m.Application {
		return false
	}
	if m.Origin != "" && slices.Contains(e.IgnoreOrigins, m.Origin) {
		return false
	}
	if len(e.IgnoreFields) > 0 && m.ChangedFields() != nil {
		for _, f := range m.ChangedFields() {
			if !slices.Contains(e.IgnoreFields, f) {
				return true
			}
		}
		return false
	}
	return true
}

// WantsType reports whether e, if active, takes events of type typ: the
// part of Wants that depends on the type alone.
func (e *Endpoint) WantsType(typ string) bool { return !e.Disabled && e.matchesType(typ) }

func (e *Endpoint) matchesType(typ string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, p := range e.EventTypes {
		if p == "*" || p == typ {
			return true
		}
		if strings.HasSuffix(p, "*") && strings.HasPrefix(typ, p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// String describes e without its secrets, so an endpoint printed into a
// log or an error message never carries them.
func (e *Endpoint) String() string {
	if e == nil {
		return "<nil endpoint>"
	}
	state := "active"
	if e.Disabled {
		state = "disabled: " + e.DisabledReason
	}
	return fmt.Sprintf("endpoint %s (tenant %s, %s, %s, %d secrets redacted, %s)", e.ID, e.TenantID, e.URL, state, len(e.Secrets), e.Auth)
}
