package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrTokenEndpoint marks an OAuth2 token request that failed: a retryable
// delivery failure, since the receiver never saw the delivery.
var ErrTokenEndpoint = errors.New("oauth2 token endpoint")

// maxEarlyRefresh is how long before its expiry a token is replaced, so a
// request never leaves with a token that lapses on the way. Short-lived
// tokens are replaced at three quarters of their life instead.
const maxEarlyRefresh = 10 * time.Second

// Tokens caches OAuth2 access tokens, one client per endpoint, so every
// request an endpoint gets reuses its token until shortly before expiry.
// Concurrent requests for an endpoint whose token is missing wait for one
// fetch. Clients unused for idleTokenClient (a deleted endpoint's) are
// dropped whenever the cache has doubled since the last sweep. Safe for
// concurrent use; the zero value is empty.
type Tokens struct {
	mu         sync.Mutex
	byEndpoint map[string]*tokenClient
	sweepAt    int // size at which the next sweep runs
}

// idleTokenClient is how long an endpoint's token client may go unused
// before a sweep drops it; minSweep is the smallest cache swept.
const (
	idleTokenClient = time.Hour
	minSweep        = 1024
)

// processTokens is the Tokens of every Sender that is given none, so the
// dispatcher, retrier and API of one process share an endpoint's token.
var processTokens = &Tokens{}

// tokenClient is one endpoint's client configuration and cached token.
type tokenClient struct {
	key  [sha256.Size]byte // the configuration it was made from
	cfg  *clientcredentials.Config
	lock chan struct{}
	tok  *oauth2.Token // under lock
	// renew is when tok is replaced, on the Sender's clock; zero: never.
	renew time.Time // under lock
	used  time.Time // last asked for, on the Sender's clock; under Tokens.mu
}

// client returns ep's token client, made anew when its credentials changed.
func (t *Tokens) client(ep *endpoints.Endpoint, now time.Time) *tokenClient {
	a := ep.Auth
	key := sha256.Sum256([]byte(strings.Join(append([]string{a.TokenURL, a.ClientID, a.ClientSecret}, a.Scopes...), "\x00")))
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byEndpoint[ep.ID]; c != nil && c.key == key {
		c.used = now
		return c
	}
	if t.byEndpoint == nil {
		t.byEndpoint = map[string]*tokenClient{}
	}
	if len(t.byEndpoint) >= max(t.sweepAt, minSweep) {
		for id, c := range t.byEndpoint {
			if now.Sub(c.used) > idleTokenClient {
				delete(t.byEndpoint, id)
			}
		}
		t.sweepAt = 2 * len(t.byEndpoint)
	}
	c := &tokenClient{key: key, lock: make(chan struct{}, 1), cfg: &clientcredentials.Config{
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: a.Scopes,
		// RFC 6749 §2.3.1: servers must take Basic; no probing, so a
		// failing server sees one request per attempt.
		AuthStyle: oauth2.AuthStyleInHeader,
	}, used: now}
	t.byEndpoint[ep.ID] = c
	return c
}

// token returns the cached token while it is fresh and is not rejected,
// else fetches one through hc. rejected is a token the receiver answered
// 401 to: it is replaced unless another request already did so.
func (c *tokenClient) token(ctx context.Context, hc *http.Client, now time.Time, rejected *oauth2.Token) (*oauth2.Token, error) {
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.lock }()
	if c.tok != nil && (rejected == nil || c.tok.AccessToken != rejected.AccessToken) && c.fresh(now) {
		return c.tok, nil
	}
	tok, err := c.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		return nil, err
	}
	c.tok, c.renew = tok, time.Time{}
	if !tok.Expiry.IsZero() {
		// The library sets Expiry from expires_in on the wall clock;
		// the lifetime left carries over to the Sender's clock.
		life := time.Until(tok.Expiry)
		c.renew = now.Add(life - min(maxEarlyRefresh, life/4))
	}
	return tok, nil
}

func (c *tokenClient) fresh(now time.Time) bool {
	return c.renew.IsZero() || now.Before(c.renew)
}

// setStaticAuth adds header or Basic credentials. It runs before the
// signature headers are set, so no auth header can replace them.
func setStaticAuth(h http.Header, a *endpoints.Auth) {
	switch {
	case a == nil:
	case a.Type == endpoints.AuthHeader:
		h.Set(a.Name, a.Value)
	case a.Type == endpoints.AuthBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	}
}

// bearer fetches (or reuses) ep's token for one request.
func (s *Sender) bearer(ctx context.Context, ep *endpoints.Endpoint, rejected *oauth2.Token) (*oauth2.Token, error) {
	u, err := url.Parse(ep.Auth.TokenURL)
	if err == nil {
		err = s.egress.CheckScheme(u)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: oauth2 token endpoint %s %v", ErrBlocked, ep.Auth.TokenURL, err)
	}
	now := s.cfg.Clock()
	tok, err := s.cfg.Tokens.client(ep, now).token(ctx, s.tokenHTTP, now, rejected)
	if err != nil {
		return nil, tokenErr(ep.Auth, err)
	}
	return tok, nil
}

// tokenErr words a failed token request with the token URL and the
// server's status, never with a credential.
func tokenErr(a *endpoints.Auth, err error) error {
	var re *oauth2.RetrieveError
	var detail string
	switch {
	case isBlocked(err):
		return blockedDial("oauth2 token endpoint "+a.TokenURL, err)
	case errors.As(err, &re) && re.Response != nil:
		detail = strconv.Itoa(re.Response.StatusCode)
		if re.ErrorCode != "" {
			detail += " " + redact(re.ErrorCode, a)
		}
	case errors.Is(err, context.DeadlineExceeded):
		detail = "timeout"
	default:
		detail = redact(err.Error(), a)
	}
	return fmt.Errorf("%w %s: %s", ErrTokenEndpoint, a.TokenURL, detail)
}

// redact removes the client secret from text a library produced.
func redact(s string, a *endpoints.Auth) string {
	if a.ClientSecret == "" {
		return s
	}
	return strings.ReplaceAll(s, a.ClientSecret, "[redacted]")
}
