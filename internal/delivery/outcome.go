package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Outcome is what an attempt means for the delivery.
type Outcome int

const (
	// Delivered: 2xx. Record it; never send again.
	Delivered Outcome = iota
	// Retry: hand to the next retry tier (or dead letters when none is left).
	Retry
	// Dead: no attempt can succeed as configured; dead-letter it (replayable).
	Dead
	// Gone: 410; disable the endpoint and dead-letter the delivery.
	Gone
)

func (o Outcome) String() string {
	return [...]string{"delivered", "retry", "dead", "gone"}[o]
}

// Retry policies of an endpoint.
const (
	// RetryAnyFailure retries every non-2xx (the default).
	RetryAnyFailure = "any"
	// RetryServerErrors retries 5xx, 408, 429 and timeouts; other 4xx are final.
	RetryServerErrors = "5xx"
)

// Classify is the one place that decides retryable versus permanent. It
// returns the outcome and a reason a user can act on.
func Classify(a Attempt, policy string) (Outcome, string) {
	switch {
	case a.Err != nil && errors.Is(a.Err, ErrBlocked):
		return Dead, a.Err.Error()
	case a.Err != nil && errors.Is(a.Err, ErrTokenEndpoint):
		// The receiver never saw the delivery; the token server may recover.
		return Retry, a.Err.Error()
	case a.Err != nil && errors.Is(a.Err, context.DeadlineExceeded):
		return Retry, a.Err.Error()
	case a.Err != nil:
		return Retry, "connection failed: " + a.Err.Error()
	case a.Status >= 200 && a.Status < 300:
		return Delivered, ""
	case a.Status == http.StatusGone:
		return Gone, "endpoint answered 410 Gone: disabled"
	case policy == RetryServerErrors && a.Status >= 400 && a.Status < 500 &&
		a.Status != http.StatusRequestTimeout && a.Status != http.StatusTooManyRequests:
		return Dead, fmt.Sprintf("HTTP %d is final under the 5xx-only retry policy", a.Status)
	case a.Status >= 300 && a.Status < 400:
		return Retry, fmt.Sprintf("HTTP %d: redirects are not followed", a.Status)
	default:
		return Retry, fmt.Sprintf("HTTP %d", a.Status)
	}
}
