package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The management page: static files embedded in the binary, so `hookline
// api` (and `dev`) serve it with no separate server or build step.
//
//go:embed web
var webFiles embed.FS

// pageCSP allows the page's own files and its own API, nothing inline and
// nothing from elsewhere; the tenant key it holds cannot be sent away by
// an injected script or form.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// asset is one embedded file, read once.
type asset struct {
	name string
	body []byte
	etag string
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	return asset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// page holds the index and the files under /ui/.
type page struct {
	index  asset
	assets map[string]asset
}

// newPage reads the embedded files. The index says whether plain http
// URLs are allowed, so the form can flag an http URL before it is sent.
func newPage(allowHTTP bool) (*page, error) {
	p := &page{assets: map[string]asset{}}
	err := fs.WalkDir(webFiles, "web", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFiles.ReadFile(name)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(name, "web/")
		if rel == "index.html" {
			flag := "false"
			if allowHTTP {
				flag = "true"
			}
			b = bytes.Replace(b, []byte(`data-allow-http="false"`), []byte(`data-allow-http="`+flag+`"`), 1)
			p.index = newAsset(rel, b)
			return nil
		}
		p.assets[rel] = newAsset(rel, b)
		return nil
	})
	return p, err
}

// secureHeaders are sent with every file of the page.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w.Header())
	// Revalidate every time: a new binary must not run with old scripts.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

func (p *page) serveIndex(w http.ResponseWriter, r *http.Request) { p.index.serve(w, r) }

func (p *page) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	a, ok := p.assets[name]
	if !ok || path.Base(name) != name {
		writeJSON(w, http.StatusNotFound, notFound("file", name))
		return
	}
	a.serve(w, r)
}
