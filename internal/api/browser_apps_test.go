package api_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hookline/hookline/internal/testbackend"
)

// The form offers the applications the API lists, each one's event types
// with their descriptions and versions, and each delivery setting's
// default as that application gives it; an endpoint created with the
// defaults left alone follows its application, on each test backend.
func TestBrowserFormFollowsTheApplication(t *testing.T) {
	chromiumPath(t)
	testbackend.ForEachBackend(t, func(t *testing.T, be testbackend.Backend) {
		s := newStack(t, be)
		applicationsFlow(t, s, s.tenant(t, "acme"), false)
	})
}

// peopleApp: two types, one event per request, its own header prefix,
// User-Agent, timeout, retry policy and give-up age.
func peopleApp() map[string]any {
	schema := map[string]any{"type": "object"}
	return map[string]any{
		"name": "People", "description": "HR events: hires and leave.",
		"dialect": map[string]any{"maxItems": 1, "headerPrefix": "X-People", "timeout": "6s",
			"userAgent": "People-Webhooks/2.0", "retryPolicy": "5xx", "maxAge": "4h"},
		"eventTypes": []any{
			map[string]any{"name": "employee.created", "description": "An employee is hired.", "version": 1, "schema": schema},
			map[string]any{"name": "leave.approved", "description": "A leave request is approved.", "version": 2, "schema": schema},
		},
	}
}

// billingApp batches, signs in bare hex and sends thin bodies.
func billingApp() map[string]any {
	schema := map[string]any{"type": "object"}
	return map[string]any{
		"name": "Billing",
		"dialect": map[string]any{"maxItems": 50, "maxWait": "10s", "timeout": "20s", "signatureFormat": "hex",
			"payload": map[string]any{"shape": "thin"}},
		"eventTypes": []any{
			map[string]any{"name": "invoice.paid", "description": "An invoice is paid in full.", "version": 1, "schema": schema},
			map[string]any{"name": "invoice.overdue", "description": "An invoice is past its due date.", "version": 1, "schema": schema},
		},
	}
}

// shown is what the form shows for one delivery setting: its
// placeholder, the note beside it (or the select's first option), and
// the value filled in.
type shown struct{ Placeholder, Note, Value string }

const formSettingsJS = `(() => {
	const out = {};
	for (const n of ["timeout", "maxItems", "maxWait", "maxAge", "retrySchedule", "headerPrefix", "userAgent"]) {
		const el = document.querySelector("#f-" + n);
		out[n] = {Placeholder: el.placeholder, Note: document.querySelector("#f-" + n + "-default").textContent, Value: el.value};
	}
	for (const [n, sel] of [["retryPolicy", "#f-retryPolicy"], ["signatureFormat", "#f-signatureFormat"], ["payload", "#f-payload-shape"]]) {
		const el = document.querySelector(sel);
		out[n] = {Placeholder: "", Note: el.options[0].textContent, Value: el.value};
	}
	return out;
})()`

// wantSettings checks the form against the defaults of application who:
// each want is the placeholder, then text the note must hold; every
// control is left empty, so nothing is sent for it.
func wantSettings(t *testing.T, b *browser, who string, want map[string][2]string) {
	t.Helper()
	got := eval[map[string]shown](b, formSettingsJS)
	for name, w := range want {
		g := got[name]
		if g.Placeholder != w[0] || !strings.Contains(g.Note, w[1]) || !strings.Contains(g.Note, who) || g.Value != "" {
			t.Errorf("%s: the form shows %s as %+v, want placeholder %q and a note of %s’s default %q, and no value", who, name, g, w[0], who, w[1])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// wantTypes checks the event types offered: the values in order, and the
// text each must show (description, version).
func wantTypes(t *testing.T, b *browser, values []string, texts map[string][]string) {
	t.Helper()
	got := eval[[][2]string](b, `[...document.querySelectorAll("#event-list li")].map(li => [li.querySelector("input").value, li.textContent.replace(/\s+/g, " ")])`)
	var vals []string
	for _, g := range got {
		vals = append(vals, g[0])
		for _, want := range texts[g[0]] {
			if !strings.Contains(g[1], want) {
				t.Errorf("event type %s shows %q, want %q in it", g[0], g[1], want)
			}
		}
	}
	if !slices.Equal(vals, values) {
		t.Errorf("event types offered %v, want %v", vals, values)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// applicationsFlow registers two applications, walks the form through
// them and the default one, creates an endpoint of the default and one of
// People with the defaults left alone, and checks through the API that
// they follow their applications: a change of People's dialect reaches
// its endpoint's view and the page, and a value set on edit and then
// cleared follows it again. Every request the page sends carries the
// tenant's key and no other.
func applicationsFlow(t *testing.T, s *stack, key string, shots bool) {
	rc := newReceiver(t)
	doAt(t, s.url, "PUT", "/v1/applications/people", s.operator, peopleApp()).want(t, 201)
	doAt(t, s.url, "PUT", "/v1/applications/billing", s.operator, billingApp()).want(t, 201)
	// Another tenant's endpoint of the same application is never shown.
	rival := s.tenant(t, "people-rival")
	doAt(t, s.url, "POST", "/v1/endpoints", rival, map[string]any{"name": "rival-people", "url": "https://1.1.1.1/rival",
		"application": "people", "eventTypes": []any{"*"}, "verify": false}).want(t, 201)
	var deployment struct {
		Data []struct {
			ID      string `json:"id"`
			Dialect struct {
				UserAgent     string   `json:"userAgent"`
				RetrySchedule []string `json:"retrySchedule"`
			} `json:"dialect"`
		} `json:"data"`
	}
	if err := json.Unmarshal(doAt(t, s.url, "GET", "/v1/applications", key, nil).want(t, 200).Body, &deployment); err != nil {
		t.Fatal(err)
	}
	if len(deployment.Data) != 3 || deployment.Data[0].ID != "default" {
		t.Fatalf("applications listed: %+v", deployment.Data)
	}
	defaultUA := deployment.Data[0].Dialect.UserAgent
	tiers := "the deployment’s tiers"
	if rs := deployment.Data[0].Dialect.RetrySchedule; len(rs) > 0 {
		tiers = strings.Join(rs, ", ")
	}

	b := newBrowser(t)
	b.shots = shots
	auth := b.recordAuthorization()
	b.do("open the page", chromedp.Navigate(s.url+"/"))
	b.wait("the sign-in form", `document.querySelector("#key")`)
	b.typeInto("#key", key)
	b.click("#signin-submit")
	b.waitText(".live", "Updated")

	// The default application first, chosen; then the registered ones.
	b.click("#create")
	b.wait("the form with the default application's types", `document.querySelector("#ev-task-created")`)
	if got := eval[[]string](b, `[...document.querySelector("#f-application").options].map(o => o.value + ":" + o.textContent)`); !slices.Equal(got,
		[]string{"default:Default: the built-in catalog", "billing:Billing (billing)", "people:People (people)"}) || eval[string](b, `document.querySelector("#f-application").value`) != "default" {
		t.Fatalf("applications offered %q, want the default one first and chosen", got)
	}
	checkControls(t, b, "#endpoint-form")
	b.waitText("#ev-task-created-d", "A task was added to the workspace.")
	defaults := map[string][2]string{
		"timeout": {"10", "10s"}, "maxItems": {"10000", "10000 (batches)"}, "maxWait": {"30", "30s"},
		"maxAge": {"never", "never"}, "retrySchedule": {tiers, strings.TrimSuffix(tiers, "’s tiers")},
		"headerPrefix": {"X-Hookline", "X-Hookline"}, "userAgent": {defaultUA, defaultUA},
		"retryPolicy": {"", "retry every failure"}, "signatureFormat": {"", "sha256=<hex>"}, "payload": {"", "full event"},
	}
	wantSettings(t, b, "this deployment’s", defaults)
	b.fullShot("form-application-default")

	b.choose("#f-application", "people")
	b.wait("People's types", `document.querySelector("#ev-employee-created")`)
	wantTypes(t, b, []string{"*", "employee.*", "employee.created", "leave.*", "leave.approved"}, map[string][]string{
		"*": {"every event", "All of People’s types"}, "employee.created": {"An employee is hired.", "v1"},
		"leave.approved": {"A leave request is approved.", "v2"}, "leave.*": {"every leave event"},
	})
	wantSettings(t, b, "People’s", map[string][2]string{
		"timeout": {"6", "6s"}, "maxItems": {"1", "1 (one event per request)"}, "maxWait": {"30", "30s"},
		"maxAge": {"4h", "4h"}, "headerPrefix": {"X-People", "X-People"}, "userAgent": {"People-Webhooks/2.0", "People-Webhooks/2.0"},
		"retryPolicy": {"", "retry 5xx, 408, 429"}, "signatureFormat": {"", "sha256=<hex>"}, "payload": {"", "full event"},
	})
	b.waitText("#f-application-help", "HR events: hires and leave. 2 event types.")
	b.fullShot("form-application-people")

	b.choose("#f-application", "billing")
	b.wait("Billing's types", `document.querySelector("#ev-invoice-paid") && !document.querySelector("#ev-employee-created")`)
	wantTypes(t, b, []string{"*", "invoice.*", "invoice.paid", "invoice.overdue"}, map[string][]string{
		"invoice.overdue": {"An invoice is past its due date.", "v1"},
	})
	wantSettings(t, b, "Billing’s", map[string][2]string{
		"timeout": {"20", "20s"}, "maxItems": {"50", "50 (batches)"}, "maxWait": {"10", "10s"},
		"signatureFormat": {"", "bare hex digest"}, "payload": {"", "thin"},
	})

	// Back to the default application: an endpoint of it, defaults left
	// alone, takes the deployment's (batches, not one event per POST).
	b.choose("#f-application", "default")
	b.wait("the default types again", `document.querySelector("#ev-task-created") && !document.querySelector("#ev-invoice-paid")`)
	wantSettings(t, b, "this deployment’s", defaults)
	b.typeInto("#f-name", "tasks-default")
	b.typeInto("#f-url", rc.URL())
	b.click(`#event-list input[value="task.*"]`)
	b.click("#save")
	b.wait("the new endpoint's page", `document.querySelector("#secret-value")`)
	tasksID := eval[string](b, `decodeURIComponent(location.hash.split("/")[2])`)
	ep := doAt(t, s.url, "GET", "/v1/endpoints/"+tasksID, key, nil).want(t, 200)
	if ep.JSON["maxItems"] != 10000.0 || ep.JSON["timeout"] != "10s" || ep.JSON["maxWait"] != "30s" || ep.JSON["application"] != nil ||
		ep.JSON["headerPrefix"] != "X-Hookline" || ep.JSON["retryPolicy"] != "any" {
		t.Fatalf("an endpoint of the default application left at its defaults: %s", ep.Body)
	}
	b.waitText("#ep-batching", "batches of up to 10000 events, sent 30s after the first")

	// People: employee.* with every default left alone.
	b.do("the list", chromedp.Navigate(s.url+"/#/endpoints"))
	b.waitText("#endpoints tbody", "tasks-default")
	b.click("#create")
	b.wait("the form", `document.querySelector("#ev-task-created")`)
	b.choose("#f-application", "people")
	b.wait("People's types", `document.querySelector("#ev-employee-created")`)
	b.typeInto("#f-name", "people-sync")
	b.typeInto("#f-url", rc.URL())
	b.click(`#event-list input[value="employee.*"]`)
	// A setting out of range is refused at its field, saying what to do.
	b.typeInto("#f-timeout", "99")
	b.click("#save")
	b.waitText("#err-timeout", "Enter at most 60 seconds, or leave it empty to follow People’s default (6s).")
	eval[bool](b, `(el => { el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); return true })(document.querySelector("#f-timeout"))`)
	pings := len(rc.got())
	b.click("#save")
	b.wait("the new endpoint's page", `document.querySelector("#secret-value")`)
	b.waitText("#notice", "test ping was answered 2xx")
	b.click("#secret-done")
	id := eval[string](b, `decodeURIComponent(location.hash.split("/")[2])`)
	got := rc.got()
	if len(got) != pings+1 || got[pings].Header.Get("X-People-Signature") == "" || got[pings].Header.Get("User-Agent") != "People-Webhooks/2.0" {
		t.Fatalf("the test ping did not speak People's dialect: %v", got[pings:])
	}
	view := func() *resp { return doAt(t, s.url, "GET", "/v1/endpoints/"+id, key, nil).want(t, 200) }
	wantView(t, view(), map[string]any{"application": "people", "timeout": "6s", "maxItems": 1.0, "maxWait": "30s",
		"headerPrefix": "X-People", "userAgent": "People-Webhooks/2.0", "retryPolicy": "5xx", "maxAge": "4h0m0s", "signatureFormat": "sha256"})
	if et := view().JSON["eventTypes"].([]any); len(et) != 1 || et[0] != "employee.*" {
		t.Fatalf("event types %v, want [employee.*]", et)
	}
	for sel, want := range map[string]string{"#ep-application": "People (people)", "#ep-timeout": "6s", "#ep-batching": "one event per request",
		"#ep-header-prefix": "X-People", "#ep-user-agent": "People-Webhooks/2.0", "#ep-give-up-after": "4h", "#ep-retry-policy": "retry 5xx"} {
		b.waitText(sel, want)
	}
	if strings.Contains(b.textOf(".summary"), "set on this endpoint") {
		t.Fatalf("the details say the endpoint sets values of its own: %s", b.textOf(".summary"))
	}

	// The endpoint stored none of People's dialect: a change of it shows
	// in the endpoint's view, and on its page without a reload.
	eval[bool](b, `window.__sameDocument = true`)
	changed := peopleApp()
	changed["dialect"] = map[string]any{"maxItems": 5, "maxWait": "15s", "headerPrefix": "X-Staff", "timeout": "9s",
		"userAgent": "Staff/3", "retryPolicy": "any", "maxAge": "2h", "signatureFormat": "hex", "payload": map[string]any{"shape": "legacy"}}
	doAt(t, s.url, "PUT", "/v1/applications/people", s.operator, changed).want(t, 200)
	follows := map[string]any{"timeout": "9s", "maxItems": 5.0, "maxWait": "15s", "headerPrefix": "X-Staff", "userAgent": "Staff/3",
		"retryPolicy": "any", "maxAge": "2h0m0s", "signatureFormat": "hex"}
	waitView(t, view, follows)
	if p := view().JSON["payload"].(map[string]any); p["shape"] != "legacy" {
		t.Fatalf("payload %v after People's became legacy", p)
	}
	b.waitText("#ep-timeout", "9s")
	b.waitText("#ep-batching", "batches of up to 5 events, sent 15s after the first")
	b.waitText("#ep-header-prefix", "X-Staff")
	if strings.Contains(b.textOf(".summary"), "set on this endpoint") {
		t.Fatalf("after People's change the details say the endpoint sets values of its own: %s", b.textOf(".summary"))
	}
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded to show the application's change")
	}

	// Edit: the application is fixed, every setting still empty; a
	// timeout set is the endpoint's own, and cleared follows People again.
	b.click("#edit")
	b.wait("the edit form", `document.querySelector("#endpoint-form") && document.querySelector("#ev-employee-created")`)
	if !eval[bool](b, `(a => a.disabled && a.value === "people")(document.querySelector("#f-application")) &&
		document.querySelector("#event-list input[value='employee.*']").checked`) {
		t.Fatal("the edit form lets the application change, or lost the events")
	}
	wantSettings(t, b, "People’s", map[string][2]string{"timeout": {"9", "9s"}, "maxItems": {"5", "5 (batches)"}, "headerPrefix": {"X-Staff", "X-Staff"},
		"signatureFormat": {"", "bare hex digest"}, "payload": {"", "legacy"}})
	b.typeInto("#f-timeout", "15")
	b.click("#save")
	b.waitText("#notice", "Saved “people-sync”")
	b.waitText("#ep-timeout", "15s (set on this endpoint; People’s default: 9s)")
	wantView(t, view(), map[string]any{"timeout": "15s", "maxItems": 5.0, "headerPrefix": "X-Staff"})
	// Cleared, the timeout follows People again; two settings of its own.
	b.click("#edit")
	b.wait("the edit form", `document.querySelector("#f-timeout") && document.querySelector("#f-timeout").value === "15"`)
	eval[bool](b, `(el => { el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); return true })(document.querySelector("#f-timeout"))`)
	b.typeInto("#f-maxItems", "2")
	b.choose("#f-retryPolicy", "5xx")
	b.click("#save")
	b.waitText("#notice", "Saved “people-sync”")
	own := maps.Clone(follows)
	own["maxItems"], own["retryPolicy"] = 2.0, "5xx"
	wantView(t, view(), own)
	b.waitText("#ep-batching", "set on this endpoint; People’s default: batches of up to 5 events")
	b.waitText("#ep-retry-policy", "set on this endpoint")
	if strings.Contains(b.textOf("#ep-timeout"), "set on this endpoint") {
		t.Fatalf("the cleared timeout is still the endpoint's own: %s", b.textOf("#ep-timeout"))
	}
	// One box makes every setting follow People again.
	b.click("#edit")
	b.wait("the edit form", `document.querySelector("#f-maxItems") && document.querySelector("#f-maxItems").value === "2" && document.querySelector("#f-retryPolicy").value === "5xx"`)
	b.click("#f-follow-app")
	if !eval[bool](b, `["#f-maxItems", "#f-retryPolicy", "#f-timeout", "#f-payload-shape"].every(s => (el => el.disabled && el.value === "")(document.querySelector(s)))`) {
		t.Fatal("following the application leaves settings of the endpoint's own in the form")
	}
	b.click("#save")
	b.waitText("#notice", "Saved “people-sync”")
	wantView(t, view(), follows)
	b.waitText("#ep-batching", "batches of up to 5 events")
	if strings.Contains(b.textOf(".summary"), "set on this endpoint") {
		t.Fatalf("after following the application the details say the endpoint sets values of its own: %s", b.textOf(".summary"))
	}

	// The list: each endpoint's application and the settings in force;
	// the other tenant's endpoint of People is not there.
	b.do("the list", chromedp.Navigate(s.url+"/#/endpoints"))
	row := `[...document.querySelectorAll("#endpoints tbody tr")].find(tr => tr.dataset.id === ` + jsString(id) + `)`
	b.wait("People's endpoint in the list", row+` && `+row+`.textContent.includes("People") && `+row+`.textContent.includes("batches of up to 5 · timeout 9s")`)
	tasks := `[...document.querySelectorAll("#endpoints tbody tr")].find(tr => tr.dataset.id === ` + jsString(tasksID) + `)`
	b.wait("the default application's endpoint in the list", tasks+` && `+tasks+`.textContent.includes("Default") && `+tasks+`.textContent.includes("batches of up to 10000 · timeout 10s")`)
	if strings.Contains(b.textOf("#endpoints"), "rival") {
		t.Fatal("the list shows another tenant's endpoint")
	}

	// Only ever the tenant's key.
	seen := auth()
	if len(seen) != 1 || seen["Bearer "+key] < 10 {
		t.Fatalf("the page sent these Authorization headers (with counts): %v; want only the tenant's key", redactKeys(seen, key, s.operator))
	}
	b.clean()
}

// wantView checks fields of an endpoint view.
func wantView(t *testing.T, r *resp, want map[string]any) {
	t.Helper()
	for field, w := range want {
		if r.JSON[field] != w {
			t.Errorf("endpoint %s = %v, want %v", field, r.JSON[field], w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// waitView gives a change of the application 30 s to reach the endpoint's
// view, then checks it.
func waitView(t *testing.T, view func() *resp, want map[string]any) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := view()
		if !slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(f string) bool { return r.JSON[f] != want[f] }) {
			return
		}
	}
	wantView(t, view(), want)
}

// recordAuthorization notes the Authorization header of every request
// the page sends to the API; the function returned counts them by value.
func (b *browser) recordAuthorization() func() map[string]int {
	b.t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.Contains(e.Request.URL, "/v1/") {
			v, _ := e.Request.Headers["Authorization"].(string)
			mu.Lock()
			seen[v]++
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
}

// redactKeys names the keys of a failure message instead of printing them.
func redactKeys(seen map[string]int, tenant, operator string) map[string]int {
	out := map[string]int{}
	for k, n := range seen {
		switch k {
		case "Bearer " + tenant:
			k = "Bearer <tenant key>"
		case "Bearer " + operator:
			k = "Bearer <operator key>"
		}
		out[k] += n
	}
	return out
}

// fullShot captures the whole page at desktop width (the window as tall
// as the page), after checking that at 360 px it needs no sideways
// scrolling; -update-screenshots writes docs/screenshots/<name>.png.
func (b *browser) fullShot(name string) {
	b.t.Helper()
	b.do("resize to 360 px", chromedp.EmulateViewport(360, 800), chromedp.Sleep(300*time.Millisecond))
	if overflow := eval[int64](b, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
		b.t.Errorf("%s at 360 px: the page is %d px wider than the window", name, overflow)
	}
	b.do("resize to desktop", chromedp.EmulateViewport(1280, 800), chromedp.Sleep(300*time.Millisecond))
	height := eval[int64](b, `Math.ceil(document.documentElement.scrollHeight)`)
	b.do("grow to the page", chromedp.EmulateViewport(1280, height), chromedp.Sleep(400*time.Millisecond))
	eval[any](b, `window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()`)
	ctx, cancel := b.step()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	cancel()
	b.do("restore the window", chromedp.EmulateViewport(1280, 800))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if *updateScreenshots && b.shots {
		dir := filepath.Join("..", "..", "docs", "screenshots")
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}
