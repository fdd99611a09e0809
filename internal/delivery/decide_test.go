package delivery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/retry"
)

// TestDecide: one answer, one next step, whoever made the attempt: the
// dispatcher's first (from -1) or a tier's; each dead letter with its cause.
func TestDecide(t *testing.T) {
	policy := retry.Policy{Prefix: "t.retry.", Delays: []time.Duration{time.Minute, 5 * time.Minute}}.WithDefaults()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	anyEp := &endpoints.Endpoint{ID: "e"}
	only5xx := &endpoints.Endpoint{ID: "e", RetryPolicy: delivery.RetryServerErrors}
	aged := &endpoints.Endpoint{ID: "e", MaxAge: endpoints.Duration(time.Hour)}
	cases := []struct {
		name     string
		a        delivery.Attempt
		ep       *endpoints.Endpoint
		from     int
		first    time.Time
		outcome  delivery.Outcome
		topic    string
		due      time.Time
		cause    string
		attempts int
	}{
		{"2xx", delivery.Attempt{Status: 204}, anyEp, -1, now, delivery.Delivered, "", time.Time{}, "", 1},
		{"first failure to tier 0", delivery.Attempt{Status: 503}, anyEp, -1, now, delivery.Retry, "t.retry.1m0s", now.Add(time.Minute), "", 1},
		{"Retry-After longer than the tier", delivery.Attempt{Status: 429, RetryAfter: 3 * time.Minute}, anyEp, -1, now, delivery.Retry, "t.retry.1m0s", now.Add(3 * time.Minute), "", 1},
		{"tier 0 failure to tier 1", delivery.Attempt{Err: context.DeadlineExceeded}, anyEp, 0, now, delivery.Retry, "t.retry.5m0s", now.Add(5 * time.Minute), "", 2},
		{"last tier: exhausted", delivery.Attempt{Status: 500}, anyEp, 1, now, delivery.Dead, "", time.Time{}, delivery.CauseExhausted, 3},
		{"past maxAge", delivery.Attempt{Status: 500}, aged, 0, now.Add(-2 * time.Hour), delivery.Dead, "", time.Time{}, delivery.CauseMaxAge, 2},
		{"final 4xx under the 5xx policy", delivery.Attempt{Status: 400}, only5xx, -1, now, delivery.Dead, "", time.Time{}, delivery.CauseRejected, 1},
		{"blocked address", delivery.Attempt{Err: errors.Join(delivery.ErrBlocked)}, anyEp, -1, now, delivery.Dead, "", time.Time{}, delivery.CauseRejected, 1},
		{"410", delivery.Attempt{Status: 410}, anyEp, 0, now, delivery.Gone, "", time.Time{}, delivery.CauseGone, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := delivery.Decide(c.a, c.ep, policy, c.from, c.attempts, c.first, now)
			if got.Outcome != c.outcome || got.Topic != c.topic || !got.Due.Equal(c.due) || got.Cause != c.cause {
				t.Fatalf("Decide = %+v, want outcome %s topic %q due %s cause %q", got, c.outcome, c.topic, c.due, c.cause)
			}
			if got.Outcome != delivery.Delivered && got.Reason == "" {
				t.Fatal("a failed attempt without a reason")
			}
		})
	}
}
