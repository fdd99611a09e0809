package examples

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMomentumStudio: a Studio receiver gets every one of the nine types
// alone in a POST, in the documented envelope and nothing more, with the
// X-Momentum-* headers and Momentum-Webhook/1.0, each verified by the
// document's verifier; and, as anything but a 2xx is a failed delivery, a
// 400 is retried with the same X-Momentum-Delivery and the same body, and
// a receiver that stays down has the delivery fail permanently after the
// endpoint's (shortened) schedule.
func TestMomentumStudio(t *testing.T) {
	t.Parallel()
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
		// A receiver that never recovers: the delivery fails permanently
		// once the endpoint's two retries are spent.
		downSecret := randomSecret("studio-")
		down := newReceiver(t, studioContract(downSecret))
		down.setAnswer(func(int) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
		downEP := d.endpoint(t, &endpoints.Endpoint{ID: "studio-down", Application: studioID, URL: down.URL(), Secrets: []string{downSecret},
			EventTypes: []string{"member.joined"}, RetrySchedule: []endpoints.Duration{endpoints.Duration(time.Second), endpoints.Duration(time.Second)}})

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
		dead := d.deadLetters(t, downEP, 1, 30*time.Second)[0]
		if dead.Attempt != 3 || !strings.Contains(dead.Reason, "failed permanently") {
			t.Errorf("the dead letter counts %d attempts (%q), want 3: the first and two retries", dead.Attempt, dead.Reason)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(flaky.snapshot()); n != 2 {
			t.Errorf("%d POSTs to the flaky receiver, want 2: a 2xx ends the delivery", n)
		}
		if n := len(down.snapshot()); n != 3 {
			t.Errorf("%d POSTs to the receiver that is down, want 3", n)
		}
	})
}

// TestMomentusConnect: Enterprise and Elite are two applications, and a
// webhook of one never gets the other's events. Each receiver authenticates
// every POST by a bearer token its own OAuth server issued (one token
// request per webhook) and by the signature under its secret key. "Ignore
// for API" (ignoreOrigins ["api"]) keeps events written through the API
// out, an inactive webhook gets nothing, and a webhook resolves the 15 s
// timeout unless it sets a longer one.
func TestMomentusConnect(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		type webhook struct {
			app    string
			tokens *tokenServer
			rc     *receiver
			ids    []string
		}
		var hooks []*webhook
		for _, app := range []string{enterpriseID, eliteID} {
			w := &webhook{app: app, tokens: newTokenServer(t)}
			secret := randomSecret("momentus-")
			w.rc = newReceiver(t, momentusContract(app, secret, w.tokens.valid))
			ep := d.endpoint(t, &endpoints.Endpoint{ID: app, Application: app, URL: w.rc.URL(), Secrets: []string{secret},
				IgnoreOrigins: []string{"api"},
				Auth:          &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: w.tokens.TokenURL(), ClientID: w.tokens.clientID, ClientSecret: w.tokens.clientSecret}})
			if got := ep.Limits().Timeout; got != 15*time.Second {
				t.Fatalf("a %s webhook waits %s, want the default 15 s", app, got)
			}
			hooks = append(hooks, w)
		}
		idle := newReceiver(t, momentusContract(enterpriseID, "unused", func(string) bool { return false }))
		inactive := d.endpoint(t, &endpoints.Endpoint{ID: "inactive", Application: enterpriseID, URL: idle.URL(), Secrets: []string{"s"},
			Timeout: endpoints.Duration(30 * time.Second), Disabled: true, DisabledReason: "inactivated by user"})
		if got := inactive.Limits().Timeout; got != 30*time.Second {
			t.Errorf("a webhook that raised its timeout waits %s, want 30 s", got)
		}

		for i, w := range hooks {
			for k := range 3 {
				n := 400 + 10*i + k
				api := event(w.app, "account.updated", n)
				api.Origin = "api" // the webhook handler writing back through the API
				ui := event(w.app, "account.updated", n)
				ui.Origin = "ui"
				d.publish(t, api, ui) // one account: one partition, the API's write first
				w.ids = append(w.ids, strconv.Itoa(n))
			}
		}
		for _, w := range hooks {
			w.rc.waitEvents(t, 3, 30*time.Second)
		}
		time.Sleep(300 * time.Millisecond) // room for a POST that should not come
		for _, w := range hooks {
			ps := w.rc.snapshot()
			var got []string
			for _, p := range ps {
				if p.err != nil {
					t.Errorf("%s refused a POST: %v", w.app, p.err)
				}
				got = append(got, p.ids...)
			}
			slices.Sort(got)
			for _, p := range ps {
				// The document does not describe the body: it is hookline's
				// envelope as published, with the deployment's user agent.
				var env map[string]json.RawMessage
				if err := exactObject(p.body, &env, "type", "eventId", "tenantId", "createdUtc", "application", "origin", "data"); err != nil {
					t.Errorf("%s: %v", w.app, err)
				}
				if ua := p.header.Get("User-Agent"); ua != delivery.DefaultUserAgent {
					t.Errorf("%s: User-Agent %q, want %q", w.app, ua, delivery.DefaultUserAgent)
				}
			}
			if !slices.Equal(got, w.ids) {
				t.Errorf("%s received accounts %v, want %v: its own, once each, none written through the API", w.app, got, w.ids)
			}
			if n := w.tokens.tokenRequests(); n != 1 {
				t.Errorf("%s: %d token requests, want 1 for the webhook's deliveries", w.app, n)
			}
		}
		if n := len(idle.snapshot()); n != 0 {
			t.Errorf("the inactive webhook got %d POSTs", n)
		}
	})
}

// TestMoment: a Moment integration gets one POST per changed object, its
// body the limited {"event": ..., "<object>": {ids}} and nothing of the
// envelope; the finalized invoice arrives exactly as the document prints
// it, and its id is what the receiver's API call fetches.
func TestMoment(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		rc := newReceiver(t, momentContract())
		d.endpoint(t, &endpoints.Endpoint{ID: "moment", Application: momentID, URL: rc.URL(), Secrets: []string{randomSecret("")}})

		const invoiceID = 106939080 // the document's
		types := d.apps[momentID].EventTypes
		want := map[string]any{} // object id -> body
		for i, et := range types {
			n := 500 + i
			if et.Name == "invoice.changed" {
				n = invoiceID
			}
			ev := event(momentID, et.Name, n)
			d.publish(t, ev)
			want[strconv.Itoa(n)] = roundTrip(t, ev.Data)
		}
		posts := rc.waitEvents(t, len(types), 30*time.Second)
		if len(posts) != len(types) {
			t.Fatalf("%d POSTs for %d changes, want one each", len(posts), len(types))
		}
		for _, p := range posts {
			var body any
			if err := json.Unmarshal(p.body, &body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body, want[p.ids[0]]) {
				t.Errorf("body %s, want %v", p.body, want[p.ids[0]])
			}
		}
		doc := `{"event": "CREATE_NEW", "invoice": {"id": 106939080, "invoiceNumber": 1,
			"customer": {"id": 62788973, "customerNumber": "10001"}, "project": {"id": 62788980, "projectNumber": "1"}}}`
		var sample any
		if err := json.Unmarshal([]byte(doc), &sample); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want[strconv.Itoa(invoiceID)], sample) {
			t.Errorf("the finalized invoice's body is %v, want the document's %v", want[strconv.Itoa(invoiceID)], sample)
		}
	})
}

// TestMomentThinBodiesKeepTheApplicationsRefs: a Moment endpoint that
// asks for hookline's thin body instead of the document's gets the ids
// Moment's catalog declares (x-hookline-refs: the event and the invoice's
// customer and project ids), not only the invoice's id: a thin body keeps
// what its application's catalog names, not the default catalog's.
func TestMomentThinBodiesKeepTheApplicationsRefs(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		secret := randomSecret("")
		rc := newReceiver(t, contract{product: momentID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
			if !verifyMomentumSignature(body, r.Header.Get("X-Hookline-Signature"), secret) {
				return nil, errSignature
			}
			return []string{"thin"}, nil
		}})
		d.endpoint(t, &endpoints.Endpoint{ID: "moment-thin", Application: momentID, URL: rc.URL(), Secrets: []string{secret},
			Payload: &payload.Spec{Shape: payload.ShapeThin}})
		d.publish(t, event(momentID, "invoice.changed", 106939080))
		body := rc.waitEvents(t, 1, 30*time.Second)[0].body
		var thin struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &thin); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"event": "CREATE_NEW", "invoice": map[string]any{"id": 106939080.0,
			"customer": map[string]any{"id": 62788973.0}, "project": map[string]any{"id": 62788980.0}}}
		if thin.Type != "invoice.changed" || !reflect.DeepEqual(thin.Data, want) {
			t.Errorf("thin body %s, want data %v", body, want)
		}
	})
}
