package examples

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMomentumStudio: a Studio receiver gets every one of the nine types
// alone in a POST, in the documented envelope and nothing more, with the
// X-Momentum-* headers and Momentum-Webhook/1.0, each verified by the
// document's verifier; and, as anything but a 2xx is a failed delivery, a
// 400 is retried with the same X-Momentum-Delivery and the same body.
func TestMomentumStudio(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		secret := randomSecret("studio-")
		rc := newReceiver(t, studioContract(secret))
		ep := d.endpoint(t, &endpoints.Endpoint{ID: "studio", Application: studioID, URL: rc.URL(), Secrets: []string{secret}})
		if l := ep.Limits(); l.MaxItems != 1 || l.Timeout != 10*time.Second {
			t.Fatalf("a Studio endpoint resolves %+v, want one event per POST and a 10 s timeout", l)
		}
		// The document's schedule did not survive in its text, so this
		// endpoint gives its own: one retry after a second.
		flakySecret := randomSecret("studio-")
		flaky := newReceiver(t, studioContract(flakySecret))
		flaky.setAnswer(func(attempt int) (int, time.Duration) {
			if attempt == 0 {
				return http.StatusBadRequest, 0
			}
			return http.StatusOK, 0
		})
		d.endpoint(t, &endpoints.Endpoint{ID: "studio-flaky", Application: studioID, URL: flaky.URL(), Secrets: []string{flakySecret},
			EventTypes: []string{"project.budget_threshold"}, RetrySchedule: []endpoints.Duration{endpoints.Duration(time.Second)}})

		types := d.apps[studioID].EventTypes
		want := map[string]map[string]any{} // eventId -> the data published
		for i, et := range types {
			ev := event(studioID, et.Name, 100+i)
			want[d.publish(t, ev)[0]] = roundTrip(t, ev.Data).(map[string]any)
		}
		posts := rc.waitEvents(t, len(types), 30*time.Second)
		if len(posts) != len(types) {
			t.Fatalf("%d POSTs for %d events, want one each", len(posts), len(types))
		}
		for _, p := range posts {
			var env struct {
				Type, EventID, TenantID, CreatedUtc string
				Data                                map[string]any
			}
			if err := json.Unmarshal(p.body, &env); err != nil {
				t.Fatal(err)
			}
			data, ok := want[env.EventID]
			switch {
			case !ok:
				t.Errorf("eventId %q was not published", env.EventID)
			case env.TenantID != "t-1" || !reflect.DeepEqual(env.Data, data):
				t.Errorf("%s: tenant %q data %v, want t-1 and %v", env.Type, env.TenantID, env.Data, data)
			}
			delete(want, env.EventID)
			// A write's eventId is stable: "<object>:<id>:<updatedUtc>".
			if strings.HasPrefix(env.Type, "task.") && !strings.HasSuffix(env.EventID, ":"+studioWrite) {
				t.Errorf("task eventId %q does not name the write", env.EventID)
			}
		}
		if len(want) > 0 {
			t.Errorf("%d events not received", len(want))
		}

		got := flaky.wait(t, 20*time.Second, "the 400 retried", func(ps []post) bool { return len(ps) >= 2 })
		if got[0].status != http.StatusBadRequest || got[1].status != http.StatusOK || got[0].err != nil || got[1].err != nil {
			t.Fatalf("statuses %d, %d (%v, %v), want 400 then 200, both verified", got[0].status, got[1].status, got[0].err, got[1].err)
		}
		if got[0].header.Get("X-Momentum-Delivery") != got[1].header.Get("X-Momentum-Delivery") || string(got[0].body) != string(got[1].body) {
			t.Errorf("the retry changed the delivery id or the body:\n%s %s\n%s %s", got[0].header.Get("X-Momentum-Delivery"), got[0].body,
				got[1].header.Get("X-Momentum-Delivery"), got[1].body)
		}
		if wait := got[1].at.Sub(got[0].at); wait < time.Second {
			t.Errorf("retried after %s, before the endpoint's 1 s", wait)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(flaky.snapshot()); n != 2 {
			t.Errorf("%d POSTs to the flaky receiver, want 2: a 2xx ends the delivery", n)
		}
	})
}
