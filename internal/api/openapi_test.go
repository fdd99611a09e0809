package api_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMain also checks, when the whole suite ran, that the recorded
// exchanges reached every documented operation.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "documented operations no test exchange reached with a 2xx: %v\n", missing)
			code = 1
		} else {
			n := 0
			exercised.Range(func(any, any) bool { n++; return true })
			fmt.Printf("OpenAPI: %d distinct (operation, status) exchanges validated; every operation reached with a 2xx\n", n)
		}
	}
	os.Exit(code)
}

func unexercised() []string {
	doc, _, err := loadDoc()
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ok := false
			exercised.Range(func(k, _ any) bool {
				f := strings.Fields(k.(string))
				if f[0] == method && f[1] == path && f[2][0] == '2' {
					ok = true
				}
				return !ok
			})
			if !ok {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// Every route the server serves is documented and every documented
// operation is served: a request to each answers with something other
// than the mux's 404 or 405.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc, _, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := api.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("documented operations:\n%v\nserved routes:\n%v", documented, served)
	}
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		k := key
		if strings.HasPrefix(path, "/v1/tenants") {
			k = e.operator
		}
		r := e.do(method, pathParam.ReplaceAllString(path, "x"), k, map[string]any{})
		if r.Status == 405 || (r.Status == 404 && strings.HasPrefix(r.str("error"), "no route")) {
			t.Errorf("%s: the mux answered %d: %s", op, r.Status, r.Body)
		}
	}
	// And an unknown path is the mux's JSON 404.
	r := e.do("GET", "/v1/nothing", key, nil).want(t, 404)
	if !strings.HasPrefix(r.str("error"), "no route") {
		t.Fatalf("unknown path: %s", r.Body)
	}
}

// A served path asked with a method it does not serve answers 405 with an
// Allow header and a JSON error naming the methods to use, before any key
// is checked; a path no route serves stays the JSON 404.
func TestWrongMethodIsTold405WithAllow(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	for _, tc := range []struct{ method, path, key, allow string }{
		{"PUT", "/v1/endpoints/ep_1", key, "DELETE, GET, HEAD, PATCH"},
		{"DELETE", "/v1/endpoints", "", "GET, HEAD, POST"},
		{"GET", "/v1/endpoints/ep_1/rotate-secret", key, "POST"},
		{"POST", "/healthz", "", "GET, HEAD"},
		{"POST", "/", "", "GET, HEAD"},
	} {
		r := e.do(tc.method, tc.path, tc.key, nil).want(t, 405)
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if msg := r.str("error"); !strings.Contains(msg, tc.method) || !strings.Contains(msg, tc.allow) {
			t.Errorf("%s %s: error %q names neither the method nor what to use", tc.method, tc.path, msg)
		}
	}
	for _, path := range []string{"/v1/endpoints/ep_1/nothing", "/v1/endpoints/a/b/c", "/v1"} {
		if r := e.do("PUT", path, key, nil).want(t, 404); !strings.HasPrefix(r.str("error"), "no route") {
			t.Errorf("PUT %s: %s", path, r.Body)
		}
	}
}

// A full create / rotate / ping flow at debug level logs no secret and no
// key token.
func TestSecretsAndKeysNeverLogged(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("acme")
	rc := newReceiver(t)
	secrets := []string{key, e.operator}
	c := e.do("POST", "/v1/endpoints", key, endpointBody("a", rc.URL())).want(t, 201)
	id := c.str("id")
	secrets = append(secrets, c.str("secret"))
	own := "own-secret-" + strings.Repeat("z", 30)
	secrets = append(secrets, own)
	e.do("POST", "/v1/endpoints", key, with(endpointBody("b", rc.URL()), "secret", own, "scheme", "hookline")).want(t, 201)
	std := e.do("POST", "/v1/endpoints", key, with(endpointBody("c", rc.URL()), "scheme", "standard-webhooks")).want(t, 201)
	secrets = append(secrets, std.str("secret"))
	for range 2 {
		secrets = append(secrets, e.do("POST", "/v1/endpoints/"+id+"/rotate-secret", key, nil).want(t, 200).str("secret"))
		secrets = append(secrets, e.do("POST", "/v1/endpoints/"+std.str("id")+"/rotate-secret", key, map[string]any{"overlap": "1h"}).want(t, 200).str("secret"))
	}
	e.do("POST", "/v1/endpoints/"+id+"/test", key, nil).want(t, 200)
	e.do("POST", "/v1/endpoints", key, with(endpointBody("d", rc.URL()), "secret", "short")).wantErr(t, 400, "secret")
	e.do("GET", "/v1/endpoints", key+"x", nil).want(t, 401)
	k2 := e.do("POST", "/v1/tenants/"+tenantOf(t, e, key)+"/keys", e.operator, nil).want(t, 201)
	secrets = append(secrets, k2.str("token"))

	entries := e.logs.All()
	if len(entries) < 10 {
		t.Fatalf("only %d log entries: the flow was not logged at all", len(entries))
	}
	for _, le := range entries {
		line, _ := json.Marshal(map[string]any{"msg": le.Message, "fields": le.ContextMap()})
		for _, s := range secrets {
			if s == "" {
				t.Fatal("a secret is empty: the flow did not run as written")
			}
			if strings.Contains(string(line), s) || strings.Contains(string(line), s[len(s)-16:]) {
				t.Fatalf("log line carries a secret or key: %s", line)
			}
		}
	}
}
