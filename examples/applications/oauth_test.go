package examples

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// tokenServer is the OAuth 2.0 authorization server of a Momentus
// receiver: it issues bearer tokens for the client credentials grant to
// one client, and the receiver accepts only tokens it issued.
type tokenServer struct {
	srv                    *httptest.Server
	clientID, clientSecret string

	mu       sync.Mutex
	issued   map[string]bool
	requests int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{clientID: randomSecret("client-"), clientSecret: randomSecret("cs-"), issued: map[string]bool{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)
	return ts
}

// TokenURL is the token endpoint.
func (ts *tokenServer) TokenURL() string { return ts.srv.URL + "/oauth/token" }

// serve answers a token request (RFC 6749 §4.4): client authentication
// by HTTP Basic (§2.3.1) or in the form, grant_type client_credentials.
func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	ts.requests++
	ts.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	case subtle.ConstantTimeCompare([]byte(id), []byte(ts.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(ts.clientSecret)) != 1:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	tok := randomSecret("at-")
	ts.mu.Lock()
	ts.issued[tok] = true
	ts.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// valid reports whether the server issued token.
func (ts *tokenServer) valid(token string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued[token]
}

// tokenRequests counts the token requests made.
func (ts *tokenServer) tokenRequests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests
}
