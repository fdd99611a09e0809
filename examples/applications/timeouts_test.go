package examples

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestEachProductsTimeout: for every product, a receiver that answers
// 1.5 s within the product's timeout is delivered to, and one slower than
// it is cut at the timeout, neither sooner nor later. Studio waits 10 s,
// Momentus Connect 15 s, Momentum's event webhooks 6 s; the Momentumpro
// and Moment documents give no figure, so theirs is the deployment's
// 10 s. The products run side by side in one deployment, so the test
// waits for the longest timeout once.
func TestEachProductsTimeout(t *testing.T) {
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
