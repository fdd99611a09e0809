package endpoints

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/payload"
)

// Dialect is how one product speaks to its receivers: header names, the
// signature, the body, batching, the timeout and the retries. An
// application carries one for all its endpoints; an endpoint's own fields
// of the same names override it field by field, and what neither sets
// takes the process defaults (the sender's flags, then the constants of
// this package). The zero value sets nothing.
type Dialect struct {
	// HeaderPrefix names the hookline scheme's headers: <prefix>-Signature,
	// -Event, -Delivery, -Timestamp, -Batch-Size. Default: the sender's
	// prefix (X-Hookline).
	HeaderPrefix string `json:"headerPrefix,omitempty"`
	// UserAgent of every request. Default: the sender's.
	UserAgent string `json:"userAgent,omitempty"`
	// Scheme is SchemeHookline (default) or SchemeStandard.
	Scheme string `json:"scheme,omitempty"`
	// SignatureFormat is SignatureSHA256 (default) or SignatureHex.
	SignatureFormat string `json:"signatureFormat,omitempty"`
	// Payload is the body's shape; nil: the envelope as published.
	Payload *payload.Spec `json:"payload,omitempty"`
	// MaxItems per delivery; 1 sends each event alone. Default 10,000.
	MaxItems int `json:"maxItems,omitempty"`
	// MaxWait seals a batch this long after its first item. Default 30 s.
	MaxWait Duration `json:"maxWait,omitempty"`
	// MaxBytes caps a delivery body. Default 5 MiB.
	MaxBytes int `json:"maxBytes,omitempty"`
	// Timeout of one POST. Default 10 s.
	Timeout Duration `json:"timeout,omitempty"`
	// RetrySchedule is the wait before each retry, rising; the delivery is
	// dead after the last. Default: the deployment's retry tiers.
	RetrySchedule []Duration `json:"retrySchedule,omitempty"`
	// MaxAge gives a delivery up this long after its first attempt.
	// Default 0: the schedule decides alone.
	MaxAge Duration `json:"maxAge,omitempty"`
	// RetryPolicy is "any" (default) or "5xx".
	RetryPolicy string `json:"retryPolicy,omitempty"`
}

// Dialect bounds: what a receiver can be asked to wait for or hold.
const (
	MaxTimeout       = 60 * time.Second
	MaxMaxWait       = 5 * time.Minute
	MaxRetries       = 20
	MaxRetryDelay    = 7 * 24 * time.Hour
	maxUserAgentLen  = 200
	maxHeaderNameLen = 64
)

// DialectError names the dialect field out of range.
type DialectError struct {
	Field  string
	Reason string
}

func (e *DialectError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a DialectError an ErrInvalid.
func (e *DialectError) Unwrap() error { return ErrInvalid }

// Validate reports the first field out of range as a *DialectError.
func (d *Dialect) Validate() error {
	if d == nil {
		return nil
	}
	bad := func(field, format string, a ...any) error {
		return &DialectError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case d.HeaderPrefix != "" && !validPrefix(d.HeaderPrefix):
		return bad("headerPrefix", "want a header prefix like X-Acme (letters, digits and dashes, starting X-, at most %d bytes), got %q", maxHeaderNameLen, d.HeaderPrefix)
	case len(d.UserAgent) > maxUserAgentLen || strings.ContainsFunc(d.UserAgent, func(r rune) bool { return r < 0x20 || r >= 0x7f }):
		return bad("userAgent", "at most %d printable ASCII characters", maxUserAgentLen)
	case d.Scheme != "" && d.Scheme != SchemeHookline && d.Scheme != SchemeStandard:
		return bad("scheme", "want %q or %q, got %q", SchemeHookline, SchemeStandard, d.Scheme)
	case d.SignatureFormat != "" && d.SignatureFormat != SignatureSHA256 && d.SignatureFormat != SignatureHex:
		return bad("signatureFormat", "want %q (sha256=<hex>) or %q (bare hex), got %q", SignatureSHA256, SignatureHex, d.SignatureFormat)
	case d.RetryPolicy != "" && d.RetryPolicy != "any" && d.RetryPolicy != "5xx":
		return bad("retryPolicy", `want "any" or "5xx", got %q`, d.RetryPolicy)
	case d.MaxItems < 0 || d.MaxItems > DefaultMaxItems:
		return bad("maxItems", "want 1 to %d (0: default %d), got %d", DefaultMaxItems, DefaultMaxItems, d.MaxItems)
	case d.MaxBytes < 0 || d.MaxBytes > kafka.MaxDeliveryBytes:
		return bad("maxBytes", "want at most %d, the most a retry topic accepts (0: default %d), got %d", kafka.MaxDeliveryBytes, DefaultMaxBytes, d.MaxBytes)
	case d.MaxWait < 0 || time.Duration(d.MaxWait) > MaxMaxWait:
		return bad("maxWait", "want at most %s (0: default %s), got %s", MaxMaxWait, DefaultMaxWait, time.Duration(d.MaxWait))
	case d.Timeout < 0 || time.Duration(d.Timeout) > MaxTimeout:
		return bad("timeout", "want at most %s (0: default %s), got %s", MaxTimeout, DefaultTimeout, time.Duration(d.Timeout))
	case d.MaxAge < 0:
		return bad("maxAge", "must not be negative, got %s", time.Duration(d.MaxAge))
	case len(d.RetrySchedule) > MaxRetries:
		return bad("retrySchedule", "at most %d retries, got %d", MaxRetries, len(d.RetrySchedule))
	}
	for i, w := range d.RetrySchedule {
		switch {
		case w <= 0 || time.Duration(w) > MaxRetryDelay:
			return bad("retrySchedule", "retry %d: want a wait from 1s to %s, got %s", i+1, MaxRetryDelay, time.Duration(w))
		case i > 0 && w < d.RetrySchedule[i-1]:
			return bad("retrySchedule", "retry %d: %s after %s: waits must not shrink", i+1, time.Duration(w), time.Duration(d.RetrySchedule[i-1]))
		}
	}
	if err := d.Payload.Validate(); err != nil {
		if se, ok := err.(*payload.SpecError); ok {
			return bad("payload."+se.Field, "%s", se.Reason)
		}
		return bad("payload", "%v", err)
	}
	return nil
}

// validPrefix: "X-" then letters, digits and dashes, as header names allow.
func validPrefix(p string) bool {
	if len(p) > maxHeaderNameLen || len(p) < 3 || !strings.EqualFold(p[:2], "x-") {
		return false
	}
	for _, r := range p {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return !strings.HasSuffix(p, "-")
}

// own is the dialect e's own fields set.
func (e *Endpoint) own() Dialect {
	return Dialect{HeaderPrefix: e.HeaderPrefix, UserAgent: e.UserAgent, Scheme: e.Scheme, SignatureFormat: e.SignatureFormat,
		Payload: e.Payload, MaxItems: e.MaxItems, MaxWait: e.MaxWait, MaxBytes: e.MaxBytes, Timeout: e.Timeout,
		RetrySchedule: e.RetrySchedule, MaxAge: e.MaxAge, RetryPolicy: e.RetryPolicy}
}

// OwnFields names, by their JSON names, the dialect fields e sets
// itself; every other one follows its application.
func (e *Endpoint) OwnFields() []string {
	d := e.own()
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(d.HeaderPrefix != "", "headerPrefix")
	add(d.UserAgent != "", "userAgent")
	add(d.Scheme != "", "scheme")
	add(d.SignatureFormat != "", "signatureFormat")
	add(d.Payload != nil, "payload")
	add(d.MaxItems != 0, "maxItems")
	add(d.MaxWait != 0, "maxWait")
	add(d.MaxBytes != 0, "maxBytes")
	add(d.Timeout != 0, "timeout")
	add(len(d.RetrySchedule) > 0, "retrySchedule")
	add(d.MaxAge != 0, "maxAge")
	add(d.RetryPolicy != "", "retryPolicy")
	return out
}

// Resolved is the dialect deliveries to e use: e's own fields over its
// application's (AppDialect), field by field. Fields neither sets stay
// zero: the sender and Limits apply the process defaults to those.
func (e *Endpoint) Resolved() Dialect {
	d := e.own()
	a := e.AppDialect
	if a == nil {
		return d
	}
	d.HeaderPrefix = cmp.Or(d.HeaderPrefix, a.HeaderPrefix)
	d.UserAgent = cmp.Or(d.UserAgent, a.UserAgent)
	d.Scheme = cmp.Or(d.Scheme, a.Scheme)
	if d.Scheme != SchemeStandard {
		d.SignatureFormat = cmp.Or(d.SignatureFormat, a.SignatureFormat)
	}
	if d.Payload == nil {
		d.Payload = a.Payload
	}
	d.MaxItems = cmp.Or(d.MaxItems, a.MaxItems)
	d.MaxWait = cmp.Or(d.MaxWait, a.MaxWait)
	d.MaxBytes = cmp.Or(d.MaxBytes, a.MaxBytes)
	d.Timeout = cmp.Or(d.Timeout, a.Timeout)
	if len(d.RetrySchedule) == 0 {
		d.RetrySchedule = a.RetrySchedule
	}
	d.MaxAge = cmp.Or(d.MaxAge, a.MaxAge)
	d.RetryPolicy = cmp.Or(d.RetryPolicy, a.RetryPolicy)
	return d
}

// WithDialect returns a copy of e that resolves against app's dialect,
// or e itself when that is the dialect it has.
func (e *Endpoint) WithDialect(app *Dialect) *Endpoint {
	if e.AppDialect == app {
		return e
	}
	cp := *e
	cp.AppDialect = app
	return &cp
}

// Delays returns the resolved retry schedule as durations; nil: the
// deployment's tiers.
func (d Dialect) Delays() []time.Duration {
	if len(d.RetrySchedule) == 0 {
		return nil
	}
	out := make([]time.Duration, len(d.RetrySchedule))
	for i, w := range d.RetrySchedule {
		out[i] = time.Duration(w)
	}
	return out
}
