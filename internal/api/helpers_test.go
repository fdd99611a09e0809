package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// loopback lets the test receivers (httptest, on 127.0.0.1) be reached.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// env is one API server on a registry Store over one Kafka backend.
type env struct {
	t        testing.TB
	k        testbackend.Kafka
	topic    string
	keyring  string
	store    *registry.Store
	srv      *api.Server
	http     *httptest.Server
	logs     *observer.ObservedLogs
	operator string
}

func randomKey(t testing.TB) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func openStore(t testing.TB, k testbackend.Kafka, topic, keyring string) *registry.Store {
	t.Helper()
	kr, err := registry.ParseKeyring(keyring)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := registry.Open(ctx, registry.Config{Brokers: k.Brokers, Topic: topic, Keyring: kr})
	if err != nil {
		t.Fatalf("registry on %s: %v", k.Name, err)
	}
	t.Cleanup(st.Close)
	return st
}

// newEnv starts a dev-like server (http and loopback allowed) unless mod
// changes that.
func newEnv(t testing.TB, k testbackend.Kafka, mod ...func(*api.Config)) *env {
	t.Helper()
	e := &env{t: t, k: k, topic: testbackend.UniqueName(t), keyring: randomKey(t), operator: "op_" + randomKey(t)}
	e.store = openStore(t, k, e.topic, e.keyring)
	e.srv, _ = e.server(e.store, mod...)
	return e
}

// server builds another Server on st with this env's settings and serves
// it; the first one built is the env's.
func (e *env) server(st *registry.Store, mod ...func(*api.Config)) (*api.Server, string) {
	e.t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := api.Config{Registry: st, OperatorKey: e.operator, AllowHTTP: true, AllowNetworks: loopback,
		Logger: zap.New(core), RatePerSecond: -1}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := api.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(hs.Close)
	if e.http == nil {
		e.http, e.logs = hs, logs
	}
	return srv, hs.URL
}

func tenantOf(t testing.TB, e *env, key string) string {
	t.Helper()
	k, ok := e.store.Authenticate(key)
	if !ok {
		t.Fatal("key does not authenticate")
	}
	return k.TenantID
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tenant creates a tenant and a key through the API.
func (e *env) tenant(name string) (id, key string) {
	e.t.Helper()
	r := e.do("POST", "/v1/tenants", e.operator, map[string]any{"name": name})
	r.want(e.t, 201)
	id = r.str("id")
	k := e.do("POST", "/v1/tenants/"+id+"/keys", e.operator, map[string]any{"name": "ci"})
	k.want(e.t, 201)
	return id, k.str("token")
}

// resp is one answer of the API.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// wantErr checks an error answer: status and the field it names.
func (r *resp) wantErr(t testing.TB, status int, field string) *resp {
	t.Helper()
	r.want(t, status)
	if got, _ := r.JSON["field"].(string); got != field {
		t.Fatalf("error names field %q, want %q: %s", got, field, r.Body)
	}
	if msg, _ := r.JSON["error"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.Body)
	}
	return r
}

func (r *resp) str(key string) string { s, _ := r.JSON[key].(string); return s }

func (e *env) do(method, path, key string, body any) *resp {
	e.t.Helper()
	return doAt(e.t, e.http.URL, method, path, key, body)
}

// doAt sends one request and checks the exchange against the OpenAPI
// document: always the response, and the request whenever the server
// accepted it.
func doAt(t testing.TB, base, method, path, key string, body any) *resp {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	r := &resp{Status: res.StatusCode, Header: res.Header, Body: out}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(out, &r.JSON); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, out)
		}
	}
	checkExchange(t, method, path, key, raw, r)
	return r
}

var (
	docOnce   sync.Once
	doc       *openapi3.T
	docRouter routers.Router
	docErr    error
	// exercised records "METHOD /path-template status" of every checked
	// exchange, for TestMain's coverage check.
	exercised sync.Map
)

func loadDoc() (*openapi3.T, routers.Router, error) {
	docOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, docErr = loader.LoadFromData(api.OpenAPI())
		if docErr == nil {
			docErr = doc.Validate(loader.Context)
		}
		if docErr == nil {
			doc.Servers = nil // match any host: test servers listen on random ports
			docRouter, docErr = gorillamux.NewRouter(doc)
		}
	})
	return doc, docRouter, docErr
}

func checkExchange(t testing.TB, method, path, key string, body []byte, r *resp) {
	t.Helper()
	_, router, err := loadDoc()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	req := httptest.NewRequest(method, "http://api.test"+path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if r.Status == 404 || r.Status == 405 {
			return // a path no route serves, and the document agrees
		}
		t.Fatalf("%s %s answered %d but is not in the OpenAPI document: %v", method, path, r.Status, err)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if r.Status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Fatalf("%s %s was accepted (%d) but its request does not validate: %v\n%s", method, path, r.Status, err, body)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Fatalf("%s %s: response %d does not validate: %v\n%s", method, path, r.Status, err, r.Body)
	}
	exercised.Store(method+" "+route.Path+" "+strconv.Itoa(r.Status), true)
}

// receiver is a webhook endpoint that records what it got and answers
// with status (204 by default).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []post
	status int
	// failBody is the body of non-2xx answers.
	failBody string
	// authName and authValue, when set, are a header every request must
	// carry; one without it is answered 401.
	authName, authValue string
}

type post struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{status: 204}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.posts = append(rc.posts, post{Header: r.Header.Clone(), Body: b})
		st, body := rc.status, rc.failBody
		if rc.authName != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(rc.authName)), []byte(rc.authValue)) != 1 {
			st, body = http.StatusUnauthorized, `{"error":"missing or wrong `+rc.authName+`"}`
		}
		rc.mu.Unlock()
		w.WriteHeader(st)
		if st >= 300 && body != "" {
			_, _ = io.WriteString(w, body)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

func (rc *receiver) setStatus(s int) { rc.mu.Lock(); rc.status = s; rc.mu.Unlock() }

// requireHeader makes the receiver refuse requests without name: value.
func (rc *receiver) requireHeader(name, value string) {
	rc.mu.Lock()
	rc.authName, rc.authValue = name, value
	rc.mu.Unlock()
}

func (rc *receiver) got() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// hooklineSigned checks the default scheme's signature as a receiver
// does: HMAC-SHA256 of the raw body, hex, sha256=.
func hooklineSigned(p post, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(p.Body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(p.Header.Get("X-Hookline-Signature")), []byte(want))
}

// standardSigned counts the webhook-signature entries that verify with
// secret (whsec_ + base64 key) over "id.timestamp.body".
func standardSigned(t testing.TB, p post, secret string) int {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q...: %v", secret[:8], err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p.Header.Get("webhook-id") + "." + p.Header.Get("webhook-timestamp") + "."))
	m.Write(p.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	n := 0
	for _, sig := range strings.Fields(p.Header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			n++
		}
	}
	return n
}

// endpointBody is a valid create request for url.
func endpointBody(name, url string) map[string]any {
	return map[string]any{"name": name, "url": url, "eventTypes": []string{"task.*", "project.created"}}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
