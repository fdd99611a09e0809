package examples

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMomentusConnect: Enterprise and Elite are two applications, and a
// webhook of one never gets the other's events. Each receiver authenticates
// every POST by a bearer token its own OAuth server issued (one token
// request per webhook) and by the signature under its secret key. "Ignore
// for API" (ignoreOrigins ["api"]) keeps events written through the API
// out, an inactive webhook gets nothing, and a webhook resolves the 15 s
// timeout unless it sets a longer one.
func TestMomentusConnect(t *testing.T) {
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
