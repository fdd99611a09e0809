package examples

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// products lists the applications in a fixed order, each with the id
// range its events' objects take in TestFiveProductsInOneDeployment: an
// id seen at a receiver names the application that published it, whether
// or not the request passed the receiver's checks.
var products = []string{studioID, proID, enterpriseID, eliteID, eventsID, momentID}

func idBase(app string) int { return 10_000 * (1 + slices.Index(products, app)) }

// ownerOf is the application whose range holds id, or "" for ids outside
// every range (the nested ids of the samples are never five digits).
func ownerOf(id int) string {
	if id < 10_000 || id >= 10_000*(1+len(products)) {
		return ""
	}
	return products[id/10_000-1]
}

// objectIDs finds every "id" member of a body, verified or not.
var objectIDs = regexp.MustCompile(`"id":\s*"?(\d+)"?`)

// TestFiveProductsInOneDeployment runs every application at once: one
// registry, one dispatcher group and one retrier group, one tenant with an
// endpoint of each application at its product's receiver, and the
// products' events published interleaved. Every POST passes its own
// product's checks, every event arrives once at its own application's
// endpoint and nowhere else, and the Momentus events written through the
// API stay home. The event webhook's endpoint sets 20 records a batch of
// its own, so its 100 records come in exactly five POSTs without waiting
// for 10,000 records or 30 s.
func TestFiveProductsInOneDeployment(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		receivers := map[string]*receiver{}
		add := func(app string, c contract, ep *endpoints.Endpoint) {
			receivers[app] = newReceiver(t, c)
			ep.ID, ep.Application, ep.URL = app, app, receivers[app].URL()
			d.endpoint(t, ep)
		}
		secret := func() string { return randomSecret("s-") }
		s := secret()
		add(studioID, studioContract(s), &endpoints.Endpoint{Secrets: []string{s}})
		s = secret()
		add(proID, proContract(s), &endpoints.Endpoint{Secrets: []string{s}})
		for _, app := range []string{enterpriseID, eliteID} {
			tokens, s := newTokenServer(t), secret()
			add(app, momentusContract(app, s, tokens.valid), &endpoints.Endpoint{Secrets: []string{s}, IgnoreOrigins: []string{"api"},
				Auth: &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: tokens.TokenURL(), ClientID: tokens.clientID, ClientSecret: tokens.clientSecret}})
		}
		token := randomSecret("token-")
		add(eventsID, eventsContract(token), &endpoints.Endpoint{Secrets: []string{secret()}, MaxItems: 20,
			Auth: &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: token}})
		add(momentID, momentContract(), &endpoints.Endpoint{Secrets: []string{secret()}})

		// Each product's events: so many of each of its types.
		rounds := map[string]int{studioID: 4, proID: 2, enterpriseID: 10, eliteID: 10, eventsID: 25, momentID: 5}
		wantPosts := map[string]int{studioID: 36, proID: 38, enterpriseID: 10, eliteID: 10, eventsID: 5, momentID: 30}
		queues := map[string][]producer.Event{}
		published := map[string][]string{}
		for _, app := range products {
			n := idBase(app)
			for range rounds[app] {
				for _, et := range d.apps[app].EventTypes {
					queues[app] = append(queues[app], event(app, et.Name, n))
					published[app] = append(published[app], strconv.Itoa(n))
					n++
				}
			}
			if app == enterpriseID || app == eliteID {
				api := event(app, "account.updated", n)
				api.Origin = "api"
				queues[app] = append(queues[app], api)
			}
		}
		var all []producer.Event // one of each product in turn
		for more := true; more; {
			more = false
			for _, app := range products {
				if q := queues[app]; len(q) > 0 {
					all, queues[app], more = append(all, q[0]), q[1:], true
				}
			}
		}
		d.publishAsync(t, all)

		// Wait for the POSTs each product should get, then a moment for
		// anything crossing late; what arrived is then counted, so a
		// failure shows in the counts rather than as a timeout.
		deadline := time.Now().Add(60 * time.Second)
		for _, app := range products {
			for len(receivers[app].snapshot()) < wantPosts[app] && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(500 * time.Millisecond)
		for _, app := range products {
			var deliveries, verified, bad, cross int
			var got []string
			for _, p := range receivers[app].snapshot() {
				deliveries++
				switch {
				case p.err == nil:
					verified++
					got = append(got, p.ids...)
				case errors.Is(p.err, errSignature):
					bad++
				}
				for _, m := range objectIDs.FindAllSubmatch(p.body, -1) {
					id, _ := strconv.Atoi(string(m[1]))
					if owner := ownerOf(id); owner != "" && owner != app {
						cross++
					}
				}
			}
			t.Logf("product=%s deliveries=%d verified=%d bad_signatures=%d cross_application=%d", app, deliveries, verified, bad, cross)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(published[app]))
			if deliveries != wantPosts[app] || verified != deliveries || bad != 0 || cross != 0 || !slices.Equal(got, want) {
				t.Errorf("%s: %d POSTs (want %d), %d verified, %d bad signatures, %d events of other applications; %d of its %d events, once each: %v",
					app, deliveries, wantPosts[app], verified, bad, cross, len(got), len(want), slices.Equal(got, want))
			}
		}
	})
}
