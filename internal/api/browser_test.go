package api_test

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser test's screenshots to docs/screenshots")

// browserSchedule is the retry schedule of the browser tests: short, but
// long enough that a page polling every 2 s shows a delivery retrying.
var browserSchedule = []time.Duration{2 * time.Second, 4 * time.Second}

// stack is the API a browser talks to, over a whole pipeline: a registry,
// a dispatcher and a retrier following it, the delivery-log indexer,
// ingest and replay.
type stack struct {
	url      string
	operator string
}

func runUntilCleanup(t *testing.T, name string, c interface {
	Run(context.Context) error
	Shutdown(context.Context) error
}) {
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("%s shutdown: %v", name, err)
		}
		if err := <-errc; err != nil {
			t.Errorf("%s run: %v", name, err)
		}
	})
}

func newStack(t *testing.T, b testbackend.Backend) *stack {
	t.Helper()
	name := testbackend.UniqueName(t)
	topics := kafka.Topics{Events: b.Topic(t, 2), Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead"}.WithDefaults()
	tiers := retry.Policy{Prefix: name + ".retry.", Delays: browserSchedule}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, b.Admin(t), 1, 1, append([]string{topics.Invalid, topics.Attempts, topics.Dead, tiers.Lane()}, tiers.Topics()...)...); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, b.Kafka, name+".registry", randomKey(t))
	sender := delivery.SenderConfig{AllowHTTP: true, AllowNetworks: loopback}
	d, err := dispatcher.New(dispatcher.Config{Brokers: b.Brokers, Group: name + ".d", Topics: topics, Retry: tiers, Endpoints: store,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "dispatcher", d)
	r, err := retrier.New(retrier.Config{Brokers: b.Brokers, Group: name + ".r", Topics: topics, Retry: tiers, Endpoints: store,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "retrier", r)
	ix, err := deliverylog.NewIndexer(deliverylog.Config{Brokers: b.Brokers, Topic: topics.Attempts, Group: name + ".ix",
		Redis: b.Redis, Prefix: b.RedisPrefix})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "indexer", ix)
	prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: topics.Events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Close(context.Background()) })
	log := deliverylog.NewReader(b.Redis, b.RedisPrefix)
	jobs := &replay.Jobs{Replayer: &replay.Replayer{Brokers: b.Brokers, Topics: topics, Retry: tiers, Log: log}, Redis: b.Redis, Prefix: b.RedisPrefix}
	s := &stack{operator: "op_" + randomKey(t)}
	srv, err := api.New(api.Config{Registry: store, Deliveries: log, Publisher: prod,
		Replayer: jobs, OperatorKey: s.operator, AllowHTTP: true, AllowNetworks: loopback, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// tenant creates a tenant and one key for it.
func (s *stack) tenant(t *testing.T, name string) string {
	t.Helper()
	id := doAt(t, s.url, "POST", "/v1/tenants", s.operator, map[string]any{"name": name}).want(t, 201).str("id")
	return doAt(t, s.url, "POST", "/v1/tenants/"+id+"/keys", s.operator, nil).want(t, 201).str("token")
}

// chromiumPath finds the browser. In CI a missing browser fails the test;
// elsewhere it is skipped with what to install.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("HOOKLINE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal("chromium is not installed: the browser tests need Debian's chromium package (apt-get install chromium; .ci/run installs it), or HOOKLINE_CHROMIUM naming a Chromium binary")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI installs it and runs this test")
	return ""
}

// browser is one headless Chromium tab; it records script exceptions and
// Content-Security-Policy violations, which fail the test at the end.
type browser struct {
	t   *testing.T
	ctx context.Context
	// shots: screenshot writes files (with -update-screenshots).
	shots bool
	mu    sync.Mutex
	errs  []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				b.note(m.String())
			}
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		<-done
	})
	return b
}

func (b *browser) note(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// clean fails the test on any exception or CSP violation seen so far.
func (b *browser) clean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.t.Fatalf("the page reported errors:\n%s", strings.Join(b.errs, "\n"))
	}
}

// step bounds one browser action; the tab itself lives until cleanup.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 60*time.Second)
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.text())
	}
}

// text is the page's visible text, for failure messages.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage text:\n%s", expr, err, b.text())
	}
	return v
}

// wait polls a JavaScript expression until it is true.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 60 s for %s (%s; %v)\npage text:\n%s", what, expr, err, b.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// textOf is the text of the first element sel matches, "" if none.
func (b *browser) textOf(sel string) string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ""`)
}

func (b *browser) waitText(sel, substr string) {
	b.t.Helper()
	b.wait(sel+" showing "+substr, `((document.querySelector(`+jsString(sel)+`) || {}).textContent || "").includes(`+jsString(substr)+`)`)
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeInto replaces an input's text by typing it.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	eval[bool](b, `(el => { el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); return true })(document.querySelector(`+jsString(sel)+`))`)
	b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose picks an option of a select and fires change, as a user would.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	b.do("choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	eval[bool](b, `document.querySelector(`+jsString(sel)+`).dispatchEvent(new Event("change", {bubbles: true}))`)
}

func (b *browser) key(keys string) {
	b.t.Helper()
	b.do("press "+keys, chromedp.KeyEvent(keys))
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// screenshot captures the viewport at desktop and at 360 px wide, checks
// that the narrow page needs no sideways scrolling, and writes the files
// under docs/screenshots with -update-screenshots.
func (b *browser) screenshot(name string, prepare string) {
	b.t.Helper()
	for _, size := range []struct {
		suffix string
		w, h   int64
	}{{"desktop", 1280, 800}, {"360", 360, 800}} {
		b.do("resize to "+size.suffix, chromedp.EmulateViewport(size.w, size.h), chromedp.Sleep(400*time.Millisecond))
		if prepare != "" {
			eval[any](b, prepare)
			// Let the scrolled page paint before it is captured.
			b.do("settle", chromedp.Sleep(300*time.Millisecond))
		}
		if overflow := eval[int64](b, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
			b.t.Errorf("%s at %d px: the page is %d px wider than the window", name, size.w, overflow)
		}
		ctx, cancel := b.step()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if *updateScreenshots && b.shots {
			dir := filepath.Join("..", "..", "docs", "screenshots")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-"+size.suffix+".png"), png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	b.do("restore the window", chromedp.EmulateViewport(1280, 800))
}
