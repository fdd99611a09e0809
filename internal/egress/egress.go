// Package egress holds the rules every request hookline makes on a tenant's
// behalf obeys: deliveries, test pings and OAuth2 token requests. A URL is
// acceptable when it is an absolute https URL (http only where AllowHTTP
// is set) whose host is, or resolves only to, public addresses, unless an
// address falls within AllowNetworks. The API checks a URL with CheckURL
// before it is stored; the sender's dialer checks the address it actually
// dials with Control, so a name that resolves differently later (DNS
// rebinding) is still refused.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// The kinds of refusal; every error this package returns wraps one.
var (
	// ErrForm: not an absolute http(s) URL, credentials in it, or an IPv4
	// host written other than as four decimal parts.
	ErrForm = errors.New("malformed URL")
	// ErrScheme: not https, and plain http is not allowed.
	ErrScheme = errors.New("scheme not allowed")
	// ErrAddress: a private, loopback or reserved address outside the
	// allowed networks.
	ErrAddress = errors.New("address not allowed")
)

// Refused tells whether err (or an error it wraps, such as a dial error)
// is a refusal by these rules. A refused request is not retried: the same
// URL is refused again.
func Refused(err error) bool {
	return errors.Is(err, ErrAddress) || errors.Is(err, ErrScheme) || errors.Is(err, ErrForm)
}

// Error is a refusal. Its message is a predicate about the URL (or host)
// that callers write after it, e.g. "url " + err, and it says what to do.
type Error struct {
	// Kind is ErrForm, ErrScheme or ErrAddress.
	Kind error
	// Host is the URL's host when known (CheckURL); the dialer knows only
	// the address.
	Host string
	// Addr is the refused address (ErrAddress).
	Addr netip.Addr
	msg  string
}

func (e *Error) Error() string {
	if e.Kind != ErrAddress {
		return e.msg
	}
	where := "resolves to " + e.Addr.String() + ","
	switch {
	case e.Host == e.Addr.String():
		where = "has host " + e.Host + ","
	case e.Host != "":
		where = "has host " + e.Host + ", which resolves to " + e.Addr.String() + ","
	}
	return where + " a private, loopback or reserved address outside the allowed networks; use a public address" +
		" (a development server may allow the network with --allow-networks)"
}

func (e *Error) Unwrap() error { return e.Kind }

func refuse(kind error, format string, a ...any) *Error {
	return &Error{Kind: kind, msg: fmt.Sprintf(format, a...)}
}

// Rules configure a Policy. The zero value is the production rule: https
// only, public addresses only.
type Rules struct {
	// AllowHTTP permits plain http:// URLs (dev and tests).
	AllowHTTP bool
	// AllowNetworks are address ranges allowed even though they are
	// private, loopback or otherwise reserved (e.g. 127.0.0.0/8 in dev).
	AllowNetworks []netip.Prefix
}

// Policy applies Rules. Safe for concurrent use.
type Policy struct {
	allowHTTP bool
	guard     *ssrf.Guardian
}

// New builds the Policy for r.
func New(r Rules) *Policy {
	var v4, v6 []netip.Prefix
	for _, p := range r.AllowNetworks {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	// Any port: an endpoint may listen where it likes; the address is what
	// separates the public internet from the operator's own networks.
	return &Policy{allowHTTP: r.AllowHTTP,
		guard: ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))}
}

// CheckURL tells whether raw is acceptable: its form (CheckForm), its
// scheme (CheckScheme) and every address its host is or resolves to
// (CheckAddr). A name that does not resolve now is accepted: the dialer's
// Control checks the address it actually dials.
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := CheckForm(raw)
	if err != nil {
		return err
	}
	if err := p.CheckScheme(u); err != nil {
		return err
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(host, a)
	}
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := p.CheckAddr(host, a); err != nil {
			return err
		}
	}
	return nil
}

// resolveTimeout bounds CheckURL's lookup, which runs inside an API request.
const resolveTimeout = 2 * time.Second

// CheckScheme tells whether u's scheme is allowed: https, or http where
// AllowHTTP is set. It does not resolve anything, so a caller whose
// dialer runs Control can check every request with it.
func (p *Policy) CheckScheme(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.allowHTTP:
	case u.Scheme == "http":
		return refuse(ErrScheme, "must use https (plain http is allowed only on development servers, with --allow-http)")
	default:
		return refuse(ErrScheme, "must be an absolute https URL, not %s:", u.Scheme)
	}
	return nil
}

// CheckAddr tells whether a, which host is or resolves to, may be
// reached. An IPv4-mapped IPv6 address is judged as the IPv4 address it
// carries, and a zone is ignored, so no spelling of an address passes
// where the plain one would not.
func (p *Policy) CheckAddr(host string, a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if err := p.guard.SafeAddr(a); err != nil {
		return &Error{Kind: ErrAddress, Host: host, Addr: a}
	}
	return nil
}

// Control is a net.Dialer Control function: it refuses a connection to an
// address CheckAddr refuses, after DNS resolution and before the
// connection is made, so the address checked is the address dialed. Only
// TCP is dialed.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return refuse(ErrAddress, "dials over %s; only TCP is allowed", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse(ErrAddress, "dials %q, which is not an IP address and port", address)
	}
	return p.CheckAddr("", ap.Addr())
}

// CheckForm parses raw and tells whether it has the form every outgoing URL
// must have, whatever the rules: absolute http(s) with a host, no
// credentials (they belong in the endpoint's auth, not in a URL that is
// logged and shown), and an IPv4 host written as four decimal parts.
func CheckForm(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return nil, refuse(ErrForm, "must be an absolute http(s) URL, got %q", raw)
	}
	if u.User != nil {
		return nil, refuse(ErrForm, "must not carry credentials; set them in the endpoint's auth")
	}
	if form := numericHostForm(u.Hostname()); form != "" {
		return nil, refuse(ErrForm, "has host %q, an IPv4 address in %s form, which resolvers read differently; write it as four decimal parts (a.b.c.d)", u.Hostname(), form)
	}
	return u, nil
}

// numericHostForm names the form of a host that is an IPv4 address written
// other than as four decimal parts ("decimal", "hexadecimal", "octal",
// "shortened"), or returns "" for canonical addresses and names. Such hosts
// are refused: net/netip rejects them while C resolvers accept them, so the
// address checked and the address dialled could differ. No DNS name has an
// all-numeric last label, so none is refused.
func numericHostForm(host string) string {
	if host == "" || strings.Contains(host, ":") {
		return "" // empty, or IPv6 (netip parses it canonically)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	form := ""
	for _, p := range parts {
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X") && isDigits(p[2:], 16):
			form = "hexadecimal"
		case len(p) > 1 && p[0] == '0' && isDigits(p, 10):
			if form == "" {
				form = "octal"
			}
		case isDigits(p, 10):
		default:
			return "" // a name, e.g. 1.example.com: resolved and checked at dial
		}
	}
	if form == "" {
		if len(parts) == 1 {
			return "decimal"
		}
		return "shortened"
	}
	return form
}

func isDigits(s string, base int) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}
