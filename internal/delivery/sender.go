package delivery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hookline/hookline/internal/egress"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/signing"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// DefaultUserAgent is sent when SenderConfig.UserAgent is empty.
const DefaultUserAgent = "Hookline-Webhook/1.0"

// SenderConfig configures a Sender. The zero value is the production
// default: https only, public addresses only, default headers.
type SenderConfig struct {
	// Prefix of the default scheme's headers. Default "X-Hookline".
	Prefix string
	// UserAgent header. Default "Hookline-Webhook/1.0".
	UserAgent string
	// AllowHTTP permits plain http:// endpoints. Default false (dev and tests
	// turn it on).
	AllowHTTP bool
	// AllowNetworks are address ranges dialed even though they are private,
	// loopback or otherwise denied (e.g. 127.0.0.0/8 in dev). Default none.
	AllowNetworks []netip.Prefix
	// MaxResponseBytes read of a response body. Default 64 KiB.
	MaxResponseBytes int64
	// MaxConnsPerHost bounds connections to one endpoint host. Default 64.
	MaxConnsPerHost int
	// MaxRetryAfter caps an endpoint's Retry-After: a longer wait is
	// treated as this one (and logged once per endpoint by Logger), so no
	// endpoint can park a delivery for days. Default 1 h
	// (DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Logger reports capped Retry-After values. Default nil: silent.
	Logger *zap.Logger
	// Tokens caches endpoints' OAuth2 tokens. Default nil: one cache
	// shared by every Sender of the process.
	Tokens *Tokens
	// Clock tells whether a cached token is still fresh. Default nil:
	// time.Now.
	Clock func() time.Time
}

// DefaultMaxRetryAfter is SenderConfig.MaxRetryAfter's default.
const DefaultMaxRetryAfter = time.Hour

// Sender POSTs deliveries. Safe for concurrent use.
type Sender struct {
	cfg     SenderConfig
	headers signing.Headers
	// egress holds every URL and dial to AllowHTTP and AllowNetworks.
	egress *egress.Policy
	client *retryablehttp.Client
	// tokenHTTP fetches OAuth2 tokens through the same guarded transport,
	// so a token URL obeys the endpoint URL's network rules.
	tokenHTTP *http.Client
	// macs reuses HMAC states per secret.
	macs signing.MACs
	// capped holds the endpoints whose Retry-After was capped, so the
	// log says it once per endpoint, not once per attempt.
	capped sync.Map
	// prefixes caches the header names of applications' prefixes.
	prefixes sync.Map
}

// ErrBlocked marks an endpoint URL the sender refuses to reach.
var ErrBlocked = errors.New("blocked destination")

// NewSender builds the HTTP client: SSRF-checked dialing of the resolved IP
// (defeats DNS rebinding), no redirects, no environment proxy, TLS 1.2+,
// HTTP/1.1 written and read by the sending goroutine (h1Transport), and
// retries only for connections that failed before a request was sent; every
// other failure is the retry tiers' business. OAuth2 token requests, a few
// per hour, keep net/http's own transport.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = 64
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Tokens == nil {
		cfg.Tokens = processTokens
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	rules := egress.New(egress.Rules{AllowHTTP: cfg.AllowHTTP, AllowNetworks: cfg.AllowNetworks})
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: rules.Control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc := retryablehttp.NewClient()
	h1 := &h1Transport{dial: dialer.DialContext, tls: tr.TLSClientConfig, maxPerHost: cfg.MaxConnsPerHost,
		idleTimeout: tr.IdleConnTimeout, handshakeTimeout: tr.TLSHandshakeTimeout}
	rc.HTTPClient = &http.Client{Transport: h1, CheckRedirect: noRedirects}
	rc.Logger = nil
	rc.RetryMax = 2
	rc.RetryWaitMin = 50 * time.Millisecond
	rc.RetryWaitMax = 250 * time.Millisecond
	rc.CheckRetry = retryConnectFailures
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &Sender{cfg: cfg, headers: canonical(signing.HeadersFor(cfg.Prefix)), egress: rules, client: rc,
		tokenHTTP: &http.Client{Transport: tr, CheckRedirect: noRedirects}}
}

// excerptSize is how much of a response body the delivery log keeps.
const excerptSize = 1024

var excerptBufs = sync.Pool{New: func() any { return new([excerptSize]byte) }}

// readResponse returns the first excerptSize bytes of body (nil when
// empty, the usual answer) and drains up to MaxResponseBytes more, so the
// connection can be reused, never all of an endless body. One pooled
// buffer serves both.
func (s *Sender) readResponse(body io.Reader) []byte {
	buf := excerptBufs.Get().(*[excerptSize]byte)
	defer excerptBufs.Put(buf)
	n, err := io.ReadFull(body, buf[:])
	var excerpt []byte
	if n > 0 {
		excerpt = bytes.Clone(buf[:n])
	}
	for left := s.cfg.MaxResponseBytes; err == nil && left > 0; {
		var m int
		m, err = body.Read(buf[:min(int64(len(buf)), left)])
		left -= int64(m)
	}
	return excerpt
}

// canonical puts header names in net/http's canonical form, so that sign
// can set them without Set's canonicalization per request.
func canonical(h signing.Headers) signing.Headers {
	for _, name := range []*string{&h.Event, &h.Delivery, &h.Signature, &h.Timestamp, &h.BatchSize} {
		*name = http.CanonicalHeaderKey(*name)
	}
	return h
}

// retryConnectFailures retries only dial errors: the request never left, so
// sending again cannot duplicate it. Blocked addresses are not retried.
func retryConnectFailures(ctx context.Context, _ *http.Response, err error) (bool, error) {
	if ctx.Err() != nil || err == nil {
		return false, nil
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && !isBlocked(err) {
		return true, nil
	}
	return false, nil
}

func isBlocked(err error) bool {
	return egress.Refused(err) || errors.Is(err, ErrBlocked)
}

// blockedDial words a dial the egress rules refused: the host dialed and
// the refusal (which names the address and what to do), never the rest
// of the dial error's chain.
func blockedDial(what string, err error) error {
	var refusal *egress.Error
	if errors.As(err, &refusal) {
		err = refusal
	}
	return fmt.Errorf("%w: %s %v", ErrBlocked, what, err)
}

// Attempt is what one POST produced.
type Attempt struct {
	Status  int           // HTTP status, 0 without a response
	Latency time.Duration // request start to response headers
	Err     error         // transport error, timeout or blocked destination
	// Excerpt is up to 1 KiB of the response body, for the delivery log.
	Excerpt []byte
	// RetryAfter is the server's Retry-After on 429/503, if any.
	RetryAfter time.Duration
}

// Send signs d for ep and POSTs it once (plus connect retries).
func (s *Sender) Send(ctx context.Context, ep *endpoints.Endpoint, d *Delivery) Attempt {
	return s.Post(ctx, s.Sign(ep, d, time.Now()))
}

// Signed is a delivery signed for one endpoint, ready to POST. Signing
// ahead lets a caller hash the next body while the previous request is in
// flight.
type Signed struct {
	ep     *endpoints.Endpoint
	d      *Delivery
	header http.Header
	at     time.Time
	err    error
	// vals backs header's values, so signing sets every header with
	// one allocation for the lot.
	vals [8]string
}

// MaxSignatureAge is how old a signature Post still sends; an older one
// (it waited behind a slow request) is made afresh, so receivers checking
// the timestamp see the time of sending to within a second.
const MaxSignatureAge = time.Second

// Sign computes the headers of d for ep, signed at now.
func (s *Sender) Sign(ep *endpoints.Endpoint, d *Delivery, now time.Time) *Signed {
	sg := &Signed{ep: ep, d: d, header: make(http.Header, 8), at: now}
	sg.err = s.sign(sg, now)
	return sg
}

// Post sends a signed delivery once (plus connect retries). With OAuth2,
// a 401 fetches a new token and sends once more; the attempt is then that
// second request's.
func (s *Sender) Post(ctx context.Context, sg *Signed) Attempt {
	timeout := sg.ep.Limits().Timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, tok := s.post(ctx, sg, nil)
	if a.Status == http.StatusUnauthorized && tok != nil {
		a, _ = s.post(ctx, sg, tok)
	}
	if a.Err != nil && !errors.Is(a.Err, ErrBlocked) && !errors.Is(a.Err, ErrTokenEndpoint) && ctx.Err() == context.DeadlineExceeded {
		a.Err = fmt.Errorf("timeout after %s: %w", timeout, context.DeadlineExceeded)
	}
	return a
}

// post makes one request; rejected is a token the receiver refused. It
// returns the bearer token it sent, if any.
func (s *Sender) post(ctx context.Context, sg *Signed, rejected *oauth2.Token) (Attempt, *oauth2.Token) {
	ep, d := sg.ep, sg.d
	start := time.Now()
	if start.Sub(sg.at) > MaxSignatureAge {
		sg = s.Sign(ep, d, start)
	}
	var body any = d.Body
	if d.Shared != nil {
		body = retryablehttp.ReaderFunc(d.Shared.Reader)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, ep.URL, body)
	if err != nil {
		return Attempt{Err: fmt.Errorf("%w: endpoint URL %q: %v", ErrBlocked, ep.URL, err)}, nil
	}
	u := req.URL
	if err := s.egress.CheckScheme(u); err != nil {
		return Attempt{Err: fmt.Errorf("%w: %s %v", ErrBlocked, ep.URL, err)}, nil
	}
	if sg.err != nil {
		return Attempt{Err: sg.err}, nil
	}
	req.Header = sg.header
	var tok *oauth2.Token
	if ep.AuthType() == endpoints.AuthOAuth2 {
		if tok, err = s.bearer(ctx, ep, rejected); err != nil {
			return Attempt{Err: err, Latency: time.Since(start)}, nil
		}
		req.Header = sg.header.Clone()
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	resp, err := s.client.Do(req)
	a := Attempt{Latency: time.Since(start)}
	if err != nil {
		if isBlocked(err) {
			a.Err = blockedDial(u.Host, err)
		} else {
			a.Err = err
		}
		return a, tok
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	a.Excerpt = s.readResponse(resp.Body)
	if a.Status == http.StatusTooManyRequests || a.Status == http.StatusServiceUnavailable {
		a.RetryAfter = s.capRetryAfter(ep.ID, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return a, tok
}

func (s *Sender) sign(sg *Signed, now time.Time) error {
	h, ep, d := sg.header, sg.ep, sg.d
	setStaticAuth(h, ep.Auth)
	// The names are canonical already (NewSender), or Standard Webhooks'
	// lower-case ones, sent as they are.
	n := 0
	set := func(name, v string) {
		sg.vals[n] = v
		h[name] = sg.vals[n : n+1 : n+1]
		n++
	}
	dl := ep.Resolved()
	set("Content-Type", "application/json")
	set("User-Agent", cmp.Or(dl.UserAgent, s.cfg.UserAgent))
	if dl.Scheme == endpoints.SchemeStandard {
		ts := now.Unix()
		sig := make([]byte, 0, len(ep.Secrets)*stdSigLen)
		for i, sec := range ep.Secrets {
			if i > 0 {
				sig = append(sig, ' ') // every current key, for rotation overlaps
			}
			var err error
			if sig, err = s.macs.AppendStd(sig, sec, d.ID, ts, d.Body); err != nil {
				return fmt.Errorf("%w: endpoint %s secret: %v", ErrBlocked, ep.ID, err)
			}
		}
		set(signing.StdID, d.ID)
		set(signing.StdTimestamp, strconv.FormatInt(ts, 10))
		set(signing.StdSignature, string(sig))
		return nil
	}
	sig := s.macs.Hex(ep.Secrets[0], d.Body)
	if dl.SignatureFormat == endpoints.SignatureHex {
		sig = strings.TrimPrefix(sig, "sha256=")
	}
	names := s.headersFor(dl.HeaderPrefix)
	set(names.Event, d.EventType)
	set(names.Delivery, d.ID)
	set(names.Signature, sig)
	// signing.TimestampLayout is the envelope's createdUtc layout, which
	// NowUTC writes without time.Format's layout interpretation.
	set(names.Timestamp, envelope.NowUTC(now))
	if d.Batch {
		set(names.BatchSize, strconv.Itoa(d.Items))
	}
	return nil
}

// headersFor returns the header names of prefix, the sender's own for
// an empty one. An application's prefix is made canonical once and kept.
func (s *Sender) headersFor(prefix string) signing.Headers {
	if prefix == "" {
		return s.headers
	}
	if h, ok := s.prefixes.Load(prefix); ok {
		return h.(signing.Headers)
	}
	h := canonical(signing.HeadersFor(prefix))
	s.prefixes.Store(prefix, h)
	return h
}

// stdSigLen is the length of one Standard Webhooks signature, "v1," and
// the base64 of a SHA-256 sum, plus the space before the next.
const stdSigLen = 3 + 44 + 1

// capRetryAfter bounds an endpoint's Retry-After by MaxRetryAfter.
func (s *Sender) capRetryAfter(endpoint string, d time.Duration) time.Duration {
	if d <= s.cfg.MaxRetryAfter {
		return d
	}
	if _, seen := s.capped.LoadOrStore(endpoint, true); !seen {
		s.cfg.Logger.Warn("endpoint asked for a Retry-After beyond the cap; waiting the cap instead",
			zap.String("endpoint", endpoint), zap.Duration("asked", d), zap.Duration("cap", s.cfg.MaxRetryAfter))
	}
	return s.cfg.MaxRetryAfter
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
