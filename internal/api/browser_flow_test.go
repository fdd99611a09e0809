package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/hookline/hookline/internal/testbackend"
)

// A tenant manages an endpoint in a real Chromium, against a whole
// pipeline assembled in this process (on each test backend).
func TestBrowserManagesAnEndpoint(t *testing.T) {
	chromiumPath(t)
	testbackend.ForEachBackend(t, func(t *testing.T, be testbackend.Backend) {
		s := newStack(t, be)
		browserFlow(t, s, s.tenant(t, "acme"), false)
	})
}

// browserFlow: sign in, a bad URL and a refused ping shown at the URL
// field, create (ping accepted), the secret once, a delivery arriving,
// retries and the dead letter appearing live, Retry now delivering it,
// rotate, inactivate, delete; another tenant's endpoint is not reachable.
func browserFlow(t *testing.T, s *stack, key string, shots bool) {
	rc := newReceiver(t)
	other := s.tenant(t, "rival")
	// Two endpoints already there, so the list has something to show.
	crmID := doAt(t, s.url, "POST", "/v1/endpoints", key, with(endpointBody("crm-sync", rc.URL()), "eventTypes", []string{"project.*"}, "application", "crm")).want(t, 201).str("id")
	doAt(t, s.url, "POST", "/v1/endpoints", key, with(endpointBody("billing", "https://1.1.1.1/billing"), "verify", false, "active", false, "maxItems", 500)).want(t, 201)
	rivalID := doAt(t, s.url, "POST", "/v1/endpoints", other, with(endpointBody("rival-private", "https://1.1.1.1/rival"), "verify", false)).want(t, 201).str("id")

	b := newBrowser(t)
	b.shots = shots
	signIn(t, b, s.url, key)
	id, secret := createEndpoint(t, b, s, rc, key)
	watchDeliveries(t, b, s, rc, key, id)
	rotateInactivateDelete(t, b, s, rc, key, id, secret)

	// Another tenant's endpoint, by URL: not found, nothing of it shown.
	b.do("open another tenant's endpoint", chromedp.Navigate(s.url+"/#/endpoints/"+rivalID))
	b.waitText("main h1", "Endpoint not found")
	if txt := b.text(); strings.Contains(txt, "rival-private") || strings.Contains(txt, "1.1.1.1/rival") {
		t.Fatalf("another tenant's endpoint shows: %s", txt)
	}
	b.do("back to the list", chromedp.Navigate(s.url+"/#/endpoints"))
	b.waitText("#endpoints tbody", "crm-sync")
	if strings.Contains(b.textOf("#endpoints"), "rival") {
		t.Fatal("the list shows another tenant's endpoint")
	}

	// An endpoint naming an application nobody registered: the built-in
	// catalog and the deployment's defaults, its application shown fixed.
	b.do("edit crm-sync", chromedp.Navigate(s.url+"/#/endpoints/"+crmID+"/edit"))
	b.wait("crm-sync's edit form", `document.querySelector("#endpoint-form") && document.querySelector("#ev-project--")`)
	if !eval[bool](b, `(a => a.disabled && a.value === "crm" && a.selectedOptions[0].textContent.includes("not registered"))(document.querySelector("#f-application")) &&
		document.querySelector("#ev-project--").checked && document.querySelector("#f-timeout").placeholder === "10"`) {
		t.Fatalf("the edit form of an endpoint of an unregistered application: %s", b.textOf("#endpoint-form"))
	}
	b.clean()
}

func signIn(t *testing.T, b *browser, base, key string) {
	t.Helper()
	b.do("open the page", chromedp.Navigate(base+"/"))
	b.wait("the sign-in form", `document.querySelector("#key")`)
	b.typeInto("#key", "hlk_not-a-key")
	b.key(kb.Enter)
	b.waitText("#err-key", "not valid")
	b.typeInto("#key", key)
	b.click("#signin-submit")
	b.waitText("#endpoints tbody", "crm-sync")
	where := eval[string](b, `location.href + " " + document.cookie + " " + localStorage.length`)
	if strings.Contains(where, key) || !strings.HasSuffix(where, " 0") {
		t.Fatalf("the key left the session storage: %q", where)
	}
	if got := eval[string](b, `sessionStorage.getItem("hookline.key")`); got != key {
		t.Fatalf("session storage holds %q", got)
	}
}

// The static token the flow's endpoint sends, and its receiver requires.
const (
	ordersTokenHeader = "X-Orders-Token"
	ordersToken       = "tok_3b9f0c2e7a41d85c"
)

// createEndpoint goes through the form: a missing header token is
// refused next to its field, a private address and a failing receiver
// next to the URL field, then the endpoint is created with its ping
// (carrying the header the receiver requires) accepted and its secret
// shown once.
func createEndpoint(t *testing.T, b *browser, s *stack, rc *receiver, key string) (id, secret string) {
	t.Helper()
	b.click("#create")
	b.wait("the form", `document.querySelector("#endpoint-form") && document.querySelector("#ev-task-created")`)
	b.choose("#f-auth-type", "header")
	checkControls(t, b, "#endpoint-form")
	b.typeInto("#f-name", "orders")
	b.typeInto("#f-url", "http://10.0.0.1/hook")
	b.click("#ev-task-created")
	// One event per request, set on the endpoint: the default application
	// batches.
	b.typeInto("#f-maxItems", "1")
	b.typeInto("#f-auth-name", ordersTokenHeader)
	b.click("#save")
	b.waitText("#err-auth-value", "required")
	b.screenshot("create-credentials", `document.querySelector("#auth").scrollIntoView({block: "center"})`)
	b.typeInto("#f-auth-value", ordersToken)
	rc.requireHeader(ordersTokenHeader, ordersToken)
	b.click("#save")
	b.waitText("#err-url", "private")
	if eval[string](b, `document.querySelector("#f-url").getAttribute("aria-invalid")`) != "true" {
		t.Fatal("the URL field is not marked invalid")
	}
	b.screenshot("create-form", `document.querySelector("#f-url").scrollIntoView({block: "center"})`)

	rc.setStatus(503)
	b.typeInto("#f-url", rc.URL())
	b.click("#save")
	b.waitText("#err-url", "HTTP 503")
	b.waitText("#err-url", "Nothing was saved")
	b.wait("the save-anyway choice", `!document.querySelector("[data-field=verify]").hidden`)
	for _, ep := range doAt(t, s.url, "GET", "/v1/endpoints", key, nil).want(t, 200).JSON["data"].([]any) {
		if ep.(map[string]any)["name"] == "orders" {
			t.Fatal("a refused ping saved the endpoint")
		}
	}

	rc.setStatus(204)
	pings := len(rc.got())
	b.click("#save")
	b.wait("the secret", `document.querySelector("#secret-value")`)
	b.waitText("#notice", "test ping was answered 2xx")
	secret = eval[string](b, `document.querySelector("#secret-value").value`)
	b.click("#copy-secret")
	b.wait("the copy button's answer", `/Copied|Ctrl\+C/.test(document.querySelector(".copy-status").textContent)`)
	id = eval[string](b, `decodeURIComponent(location.hash.split("/")[2])`)
	if ep := doAt(t, s.url, "GET", "/v1/endpoints/"+id, key, nil).want(t, 200); ep.JSON["maxItems"] != 1.0 || ep.JSON["timeout"] != "10s" {
		t.Fatalf("the endpoint created with one event per request: %s", ep.Body)
	}
	got := rc.got()
	if len(got) != pings+1 || !hooklineSigned(got[len(got)-1], secret) || got[len(got)-1].Header.Get(ordersTokenHeader) != ordersToken {
		t.Fatalf("%d pings on save, want 1 signed with the secret shown and carrying %s", len(got)-pings, ordersTokenHeader)
	}

	b.do("reload", chromedp.Reload())
	b.wait("the details page", `document.querySelector("#settings-h") && document.querySelector("#ep-url")`)
	if b.textOf("#secret-panel") != "" || strings.Contains(b.text(), secret) ||
		strings.Contains(eval[string](b, `JSON.stringify(sessionStorage)`), secret) {
		t.Fatal("the secret is shown again after a reload, or kept in the session")
	}
	return id, secret
}

// watchDeliveries publishes events and watches the details page (never
// reloaded) show a delivery, then retries and a dead letter, then Retry
// now delivering it to the receiver once more, with the same id.
func watchDeliveries(t *testing.T, b *browser, s *stack, rc *receiver, key, id string) {
	t.Helper()
	eval[bool](b, `window.__sameDocument = true`)
	publish := func(task string) {
		doAt(t, s.url, "POST", "/v1/events", key, map[string]any{"type": "task.created",
			"data": map[string]any{"task": map[string]any{"id": task, "title": "Ducts " + task}}}).want(t, 202)
	}
	publish("t1")
	b.wait("a delivered row", `[...document.querySelectorAll("#deliveries tbody tr")].some(tr => tr.textContent.includes("delivered"))`)

	rc.mu.Lock()
	rc.status, rc.failBody = 500, `{"error":"orders database unavailable"}`
	rc.mu.Unlock()
	publish("t2")
	failing := `[...document.querySelectorAll("#deliveries tbody tr")].find(tr => !tr.textContent.includes("delivered"))`
	b.wait("a retrying row", failing+` && `+failing+`.children[1].textContent === "retrying"`)
	b.wait("the dead letter", failing+` && `+failing+`.children[1].textContent === "dead" && `+failing+`.children[2].textContent === "3"`)
	dead := eval[string](b, failing+`.dataset.id`)
	b.waitText("#health", "failing")
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded to show the deliveries")
	}
	b.screenshot("details", `document.querySelector("#deliveries-h").scrollIntoView()`)

	b.click(`#deliveries tr[data-id="` + dead + `"] button[data-action=open]`)
	b.wait("the drawer's 3 attempts", `document.querySelectorAll("#attempts li").length === 3`)
	if n := eval[int](b, `[...document.querySelectorAll("#attempts li")].filter(li => li.textContent.includes("HTTP 500") &&
		li.querySelector(".excerpt").textContent.includes("orders database unavailable")).length`); n != 3 {
		t.Fatalf("%d of 3 attempts show HTTP 500 and the response excerpt", n)
	}
	b.screenshot("delivery-drawer", "")

	rc.setStatus(204)
	b.click("#retry-now")
	b.waitText("#drawer-status", "delivered")
	b.wait("4 attempts", `document.querySelectorAll("#attempts li").length === 4`)
	if n := countDelivery(rc, dead); n != 4 {
		t.Fatalf("delivery %s reached the receiver %d times, want 3 failures and 1 success", dead, n)
	}
	b.key(kb.Escape)
	b.wait("the drawer closed", `!document.querySelector("#drawer")`)

	// A bulk replay of the dead letters, now delivered: the job finishes
	// and the receiver gets nothing more.
	b.typeInto("#replay-rate", "10")
	b.click("#replay")
	b.waitText("#replay-progress", "Replay done")
	b.waitText("#replay-progress", "up to 10/s")
	time.Sleep(3 * time.Second)
	if n := countDelivery(rc, dead); n != 4 {
		t.Fatalf("after the replay delivery %s reached the receiver %d times, want still 4", dead, n)
	}

	b.do("the list", chromedp.Navigate(s.url+"/#/endpoints"))
	b.wait("the list's rates", `[...document.querySelectorAll("#endpoints tbody tr")].some(tr => tr.textContent.includes("orders") && tr.textContent.includes("%"))`)
	b.screenshot("list", "")
	b.click(`#endpoints tr[data-id="` + id + `"] a.ep-name`)
	b.wait("the details page", `document.querySelector("#rotate")`)
}

func countDelivery(rc *receiver, id string) int {
	n := 0
	for _, p := range rc.got() {
		if p.Header.Get("X-Hookline-Delivery") == id {
			n++
		}
	}
	return n
}

func rotateInactivateDelete(t *testing.T, b *browser, s *stack, rc *receiver, key, id, old string) {
	t.Helper()
	// Edit: application, scheme and credentials' type are fixed, the
	// token is not filled in; the rest saves, and the stored token stays.
	b.click("#edit")
	b.wait("the edit form", `document.querySelector("#endpoint-form") && document.querySelector("#ev-task-created")`)
	if !eval[bool](b, `document.querySelector("#f-application").disabled && document.querySelector("#f-scheme-hookline").disabled &&
		document.querySelector("#f-scheme-standard-webhooks").disabled && document.querySelector("#ev-task-created").checked`) {
		t.Fatal("the edit form lets application or authentication change, or lost the events")
	}
	if !eval[bool](b, `(t => t.disabled && t.value === "header")(document.querySelector("#f-auth-type")) &&
		document.querySelector("#f-auth-name").value === `+jsString(ordersTokenHeader)+` &&
		(v => v.value === "" && v.placeholder.includes("leave empty to keep"))(document.querySelector("#f-auth-value"))`) {
		t.Fatal("the edit form lets the credentials' type change, or fills in the token")
	}
	// A template that does not parse is refused at its field.
	b.choose("#f-payload-shape", "template")
	b.typeInto("#f-payload-template", `{"text": {{jsonStr .type}`)
	b.click("#save")
	b.wait("the template's syntax error", `/template: .*:1: /.test(document.querySelector("#err-payload-template").textContent)`)
	if eval[string](b, `document.querySelector("#f-payload-template").getAttribute("aria-invalid")`) != "true" {
		t.Fatal("the template field is not marked invalid")
	}
	b.choose("#f-payload-shape", "full")
	b.typeInto("#f-timeout", "20")
	b.click("#save")
	b.waitText("#notice", "Saved “orders”")
	b.waitText(".summary", "20s")
	if got := doAt(t, s.url, "GET", "/v1/endpoints/"+id, key, nil).want(t, 200).str("timeout"); got != "20s" {
		t.Fatalf("timeout %q after the edit", got)
	}

	b.click("#rotate")
	b.waitText("#confirm-text", "orders")
	b.click(`dialog.confirm button[value=yes]`)
	b.wait("the new secret", `document.querySelector("#secret-value")`)
	fresh := eval[string](b, `document.querySelector("#secret-value").value`)
	if fresh == "" || fresh == old {
		t.Fatal("rotate showed no new secret")
	}
	b.click("#test-ping")
	b.waitText("#ping-result", "answered HTTP 204")
	got := rc.got()
	if p := got[len(got)-1]; !hooklineSigned(p, fresh) || hooklineSigned(p, old) {
		t.Fatal("the ping after rotation is not signed with the new secret alone")
	}
	b.click("#secret-done")

	b.click("#toggle-active")
	b.waitText(".title .badge", "inactive")
	b.waitText("#toggle-active", "Activate")
	if st := doAt(t, s.url, "GET", "/v1/endpoints/"+id, key, nil).want(t, 200).str("status"); st != "inactive" {
		t.Fatalf("status %q after Inactivate", st)
	}

	b.click("#delete")
	b.waitText("#confirm-text", "“orders”")
	b.click(`dialog.confirm button[value=yes]`)
	b.waitText(".notice", "Deleted “orders”")
	doAt(t, s.url, "GET", "/v1/endpoints/"+id, key, nil).want(t, 404)
}

// checkControls: every control in sel has a label, and Tab reaches each
// one (one per radio group).
func checkControls(t *testing.T, b *browser, sel string) {
	t.Helper()
	unlabelled := eval[[]string](b, `[...document.querySelectorAll(`+jsString(sel+" input, "+sel+" select, "+sel+" textarea, "+sel+" button, "+sel+" a")+`)]
		.filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.textContent.trim())
		.map(el => el.outerHTML)`)
	if len(unlabelled) > 0 {
		t.Fatalf("controls without a label: %v", unlabelled)
	}
	want := eval[[]string](b, `(() => { const seen = new Set(); return [...document.querySelectorAll(`+jsString(sel+" input, "+sel+" select, "+sel+" button, "+sel+" a[href]")+`)]
		.filter(el => !el.disabled && el.offsetParent !== null)
		.filter(el => el.type !== "radio" || (el.checked && !seen.has(el.name) && seen.add(el.name)))
		.map(el => el.id || el.textContent.trim()); })()`)
	eval[bool](b, `(document.activeElement && document.activeElement.blur(), true)`)
	reached := map[string]bool{}
	for i := 0; i < 3*len(want)+10; i++ {
		b.key(kb.Tab)
		reached[eval[string](b, `document.activeElement.id || document.activeElement.textContent.trim()`)] = true
	}
	var missed []string
	for _, w := range want {
		if !reached[w] {
			missed = append(missed, w)
		}
	}
	if len(missed) > 0 {
		t.Fatalf("Tab never reaches %v (of %d controls)", missed, len(want))
	}
	fmt.Printf("browser: %d controls in %s, each labelled and reached with Tab\n", len(want), sel)
}
