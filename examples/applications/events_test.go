package examples

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// TestMomentumEventsBatchesOf10k: a Momentum event webhook gets its
// records in batches of 10,000 (the count seals the batch long before its
// 30 s), as one JSON array of {"msys": {"<class>_event": ...}} records,
// every POST carrying the webhook's token; and it resolves the document's
// 6 s timeout and four hours of backoff retries.
func TestMomentumEventsBatchesOf10k(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		token := randomSecret("token-")
		rc := newReceiver(t, eventsContract(token))
		ep := d.endpoint(t, &endpoints.Endpoint{ID: "events", Application: eventsID, URL: rc.URL(), Secrets: []string{randomSecret("")},
			Auth: &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: token}})
		l, dl := ep.Limits(), ep.Resolved()
		if l.MaxItems != 10_000 || l.MaxWait != 30*time.Second || l.Timeout != 6*time.Second || time.Duration(dl.MaxAge) != 4*time.Hour {
			t.Fatalf("a Momentum event webhook resolves %+v and maxAge %s, want 10,000 records or 30 s, 6 s, 4 h", l, time.Duration(dl.MaxAge))
		}
		var horizon time.Duration
		for i, w := range dl.Delays() {
			if i > 0 && w < dl.Delays()[i-1] {
				t.Errorf("the backoff shrinks at retry %d", i+1)
			}
			horizon += w
		}
		if horizon < 4*time.Hour {
			t.Errorf("the schedule ends after %s, before the 4 h maxAge: a batch would be deleted early", horizon)
		}

		types := d.apps[eventsID].EventTypes
		const n = 10_000
		evs := make([]producer.Event, n)
		want := make([]string, n)
		for i := range evs {
			evs[i] = event(eventsID, types[i%len(types)].Name, 10_000+i)
			want[i] = strconv.Itoa(10_000 + i)
		}
		d.publishAsync(t, evs)
		posts := rc.waitEvents(t, n, 90*time.Second)
		if len(posts) != 1 {
			t.Fatalf("%d POSTs for %d records, want one batch", len(posts), n)
		}
		if got := posts[0].header.Get("X-Hookline-Batch-Size"); got != strconv.Itoa(n) {
			t.Errorf("X-Hookline-Batch-Size %q, want %d", got, n)
		}
		got := slices.Clone(posts[0].ids)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("the batch holds %d records, not the %d published once each", len(got), n)
		}
	})
}

// TestMomentumEventsDeletedAfterMaxAge: a batch that keeps failing is
// retried with backoff until its maxAge and then deleted, which hookline
// does by dead-lettering it. The endpoint shortens the four hours to 4 s
// and the waits to a second (and seals its batches after 200 ms rather
// than 30 s); the chain ends by the age, before the ten retries do.
func TestMomentumEventsDeletedAfterMaxAge(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		token := randomSecret("token-")
		rc := newReceiver(t, eventsContract(token))
		rc.setAnswer(func(int) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
		ep := d.endpoint(t, &endpoints.Endpoint{ID: "events-down", Application: eventsID, URL: rc.URL(), Secrets: []string{randomSecret("")},
			Auth:          &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: token},
			RetrySchedule: slices.Repeat([]endpoints.Duration{endpoints.Duration(time.Second)}, 10),
			MaxAge:        endpoints.Duration(4 * time.Second), MaxWait: endpoints.Duration(200 * time.Millisecond)})
		d.publish(t, event(eventsID, "message_event.injection", 1), event(eventsID, "message_event.delivery", 2), event(eventsID, "track_event.open", 3))

		dead := d.deadLetters(t, ep, 1, 30*time.Second)[0]
		if !strings.Contains(dead.Reason, "max age 4s") || dead.Items != 3 {
			t.Errorf("dead letter of %d records: %q, want the batch of 3 ended by its max age", dead.Items, dead.Reason)
		}
		ps := rc.snapshot()
		if len(ps) < 3 || len(ps) > 10 {
			t.Fatalf("%d POSTs, want a few retries a second apart, ended by the age before the schedule", len(ps))
		}
		first := ps[0]
		for i, p := range ps {
			if p.err != nil || p.header.Get("X-Hookline-Delivery") != first.header.Get("X-Hookline-Delivery") || string(p.body) != string(first.body) {
				t.Errorf("POST %d: %v, or not the same batch as the first", i, p.err)
			}
		}
		if span := ps[len(ps)-1].at.Sub(first.at); span > 4*time.Second+1500*time.Millisecond {
			t.Errorf("retried for %s, past the 4 s max age", span)
		}
		if dead.Attempt != len(ps) {
			t.Errorf("the dead letter counts %d attempts, the receiver saw %d", dead.Attempt, len(ps))
		}
	})
}
