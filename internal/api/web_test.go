package api_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
)

var (
	assetRef  = regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`)
	importRef = regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	inlineJS  = regexp.MustCompile(`(?i)<script(?:\s+type="module")?\s*>|\son[a-z]+=|javascript:|\sstyle=`)
)

// The page is served at / with a strict policy: no inline script or
// style, nothing from other origins, no framing; every file it loads is
// served, with the type a browser will run under nosniff.
func TestPageServedUnderStrictCSP(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	r := e.do("GET", "/", "", nil).want(t, 200)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", r.Header)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index content type %q", r.Header.Get("Content-Type"))
	}
	html := string(r.Body)
	if m := inlineJS.FindString(html); m != "" {
		t.Fatalf("index holds inline script or style: %q", m)
	}
	if !strings.Contains(html, `data-allow-http="true"`) {
		t.Fatal("a dev server's page does not say http URLs are allowed")
	}

	// Every file the index and the scripts name is served.
	seen := map[string]bool{}
	queue := []string{}
	for _, m := range assetRef.FindAllStringSubmatch(html, -1) {
		queue = append(queue, m[1])
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		a := e.do("GET", p, "", nil).want(t, 200)
		ext := p[strings.LastIndex(p, "."):]
		if !strings.HasPrefix(a.Header.Get("Content-Type"), types[ext]) || a.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: content type %q, CSP %q", p, a.Header.Get("Content-Type"), a.Header.Get("Content-Security-Policy"))
		}
		if ext == ".js" {
			src := string(a.Body)
			for _, m := range importRef.FindAllStringSubmatch(src, -1) {
				queue = append(queue, "/ui/"+m[1])
			}
			// Neither eval-like code (the CSP would block it) nor inline
			// style attributes, nor a key in a URL.
			for _, bad := range []string{"eval(", "new Function", "innerHTML", "style:", "'style'", "localStorage", "?key=", "&key="} {
				if strings.Contains(src, bad) {
					t.Errorf("%s contains %q", p, bad)
				}
			}
		}
	}
	if len(seen) < 8 {
		t.Fatalf("only %d files reached from the index: %v", len(seen), seen)
	}
	e.do("GET", "/ui/nothing.js", "", nil).want(t, 404)
	e.do("GET", "/ui/..%2fweb.go", "", nil).want(t, 404)
	// The API's own 404 is unchanged.
	if r := e.do("GET", "/v1/nothing", "", nil).want(t, 404); !strings.HasPrefix(r.str("error"), "no route") {
		t.Fatalf("unknown path: %s", r.Body)
	}
}

// Outside dev the page tells the form that only https URLs are accepted.
func TestPageSaysHTTPSOnly(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.AllowHTTP = false })
	r := e.do("GET", "/", "", nil).want(t, 200)
	if !strings.Contains(string(r.Body), `data-allow-http="false"`) {
		t.Fatal("an https-only server's page allows http URLs")
	}
}
