package examples

import (
	"errors"
	"net/http"
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
	t.Parallel()
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

// TestEachProductsTimeout: for every product, a receiver that answers
// 1.5 s within the product's timeout is delivered to, and one slower than
// it is cut at the timeout, neither sooner nor later. Studio waits 10 s,
// Momentus Connect 15 s, Momentum's event webhooks 6 s; the Momentumpro
// and Moment documents give no figure, so theirs is the deployment's
// 10 s. The products run side by side in one deployment, so the test
// waits for the longest timeout once.
func TestEachProductsTimeout(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		tokens := newTokenServer(t)
		type product struct {
			app     string
			timeout time.Duration
			typ     string
			// contract and endpoint make one receiver and its endpoint.
			contract func(secret string) contract
			endpoint func(ep *endpoints.Endpoint)
		}
		token := randomSecret("token-")
		products := []product{
			{studioID, 10 * time.Second, "task.created", studioContract, nil},
			{proID, endpoints.DefaultTimeout, "payroll.locked", proContract, nil},
			{enterpriseID, 15 * time.Second, "account.updated",
				func(secret string) contract { return momentusContract(enterpriseID, secret, tokens.valid) },
				func(ep *endpoints.Endpoint) {
					ep.Auth = &endpoints.Auth{Type: endpoints.AuthOAuth2, TokenURL: tokens.TokenURL(), ClientID: tokens.clientID, ClientSecret: tokens.clientSecret}
				}},
			{eventsID, 6 * time.Second, "track_event.click",
				func(string) contract { return eventsContract(token) },
				func(ep *endpoints.Endpoint) {
					ep.Auth = &endpoints.Auth{Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: token}
					ep.MaxWait = endpoints.Duration(200 * time.Millisecond) // not the 30 s a lone record waits
				}},
			{momentID, endpoints.DefaultTimeout, "invoice.changed", func(string) contract { return momentContract() }, nil},
		}
		type pair struct {
			p            product
			slow, inTime *receiver
		}
		var pairs []pair
		for i, p := range products {
			mk := func(name string, hold time.Duration) *receiver {
				secret := randomSecret("s-")
				rc := newReceiver(t, p.contract(secret))
				// Only the first attempt is held: a retry is answered at
				// once, so no request outlives the test.
				rc.setAnswer(func(attempt int) (int, time.Duration) {
					if attempt == 0 {
						return http.StatusOK, hold
					}
					return http.StatusOK, 0
				})
				ep := &endpoints.Endpoint{ID: p.app + "-" + name, Application: p.app, URL: rc.URL(), Secrets: []string{secret}}
				if p.endpoint != nil {
					p.endpoint(ep)
				}
				if got := d.endpoint(t, ep).Limits().Timeout; got != p.timeout {
					t.Fatalf("%s resolves a %s timeout, want %s", p.app, got, p.timeout)
				}
				return rc
			}
			pairs = append(pairs, pair{p, mk("slow", p.timeout+3*time.Second), mk("in-time", p.timeout-1500*time.Millisecond)})
			d.publish(t, event(p.app, p.typ, 600+i))
		}
		for _, pr := range pairs {
			limit := pr.p.timeout + 20*time.Second
			slow := pr.slow.wait(t, limit, "the slow POST cut", func(ps []post) bool { return len(ps) > 0 && ps[0].cut > 0 })
			if cut := slow[0].cut; cut < pr.p.timeout-250*time.Millisecond || cut > pr.p.timeout+time.Second {
				t.Errorf("%s: a slow receiver was cut after %s, want %s", pr.p.app, cut.Round(time.Millisecond), pr.p.timeout)
			} else {
				t.Logf("%s: cut after %s (timeout %s)", pr.p.app, cut.Round(time.Millisecond), pr.p.timeout)
			}
			ok := pr.inTime.wait(t, limit, "the in-time POST answered", func(ps []post) bool { return len(ps) > 0 && ps[0].cut == 0 && ps[0].status == http.StatusOK })
			if ok[0].err != nil {
				t.Errorf("%s: %v", pr.p.app, ok[0].err)
			}
		}
		for _, pr := range pairs {
			if n := len(pr.inTime.snapshot()); n != 1 {
				t.Errorf("%s: %d POSTs to the receiver that answered in time, want 1", pr.p.app, n)
			}
		}
	})
}
