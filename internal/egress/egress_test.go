package egress_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/egress"
)

var (
	production = egress.New(egress.Rules{})
	dev        = egress.New(egress.Rules{AllowHTTP: true, AllowNetworks: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
)

// TestRules is the rule table every caller shares: the API before storing
// a URL, the sender's dialer and the OAuth2 token client.
func TestRules(t *testing.T) {
	cases := []struct {
		name string
		p    *egress.Policy
		url  string
		want error // nil, egress.ErrForm, ErrScheme or ErrAddress
	}{
		{"public https", production, "https://1.1.1.1/hook", nil},
		{"public ipv6", production, "https://[2606:4700:4700::1111]/hook", nil},
		{"public with port", production, "https://1.1.1.1:8443/hook", nil},
		{"http refused", production, "http://1.1.1.1/hook", egress.ErrScheme},
		{"http allowed", dev, "http://1.1.1.1/hook", nil},
		{"loopback", production, "https://127.0.0.1/x", egress.ErrAddress},
		{"loopback ipv6", production, "https://[::1]/x", egress.ErrAddress},
		{"localhost name", production, "https://localhost/x", egress.ErrAddress},
		{"private 10/8", production, "https://10.1.2.3/x", egress.ErrAddress},
		{"private 172.16/12", production, "https://172.16.0.9/x", egress.ErrAddress},
		{"private 192.168/16", production, "https://192.168.1.1/x", egress.ErrAddress},
		{"unique local ipv6", production, "https://[fd12::1]/x", egress.ErrAddress},
		{"link-local", production, "https://169.254.10.10/x", egress.ErrAddress},
		{"link-local ipv6", production, "https://[fe80::1]/x", egress.ErrAddress},
		{"metadata", production, "https://169.254.169.254/latest/meta-data", egress.ErrAddress},
		{"metadata in dev", dev, "http://169.254.169.254/latest/meta-data", egress.ErrAddress},
		{"unspecified", production, "https://0.0.0.0/x", egress.ErrAddress},
		{"ipv4-mapped private", production, "https://[::ffff:192.168.0.1]/x", egress.ErrAddress},
		{"ipv4-mapped metadata", production, "https://[::ffff:169.254.169.254]/x", egress.ErrAddress},
		{"ipv4-mapped loopback allowed", dev, "https://[::ffff:127.0.0.1]/x", nil},
		{"allowed network", dev, "http://127.0.0.1:8080/x", nil},
		{"allowed ipv6 network", dev, "https://[fd12::1]/x", nil},
		{"private outside the allowed networks", dev, "https://10.1.2.3/x", egress.ErrAddress},
		{"unresolvable name is left to the dialer", production, "https://no-such-host.invalid/x", nil},
		{"other scheme", dev, "ftp://1.1.1.1/x", egress.ErrForm},
		{"relative", dev, "/hook", egress.ErrForm},
		{"no host", dev, "https:///hook", egress.ErrForm},
		{"credentials", dev, "https://u:p@1.1.1.1/x", egress.ErrForm},
		{"hexadecimal ipv4", dev, "https://0x7f000001/x", egress.ErrForm},
		{"octal ipv4", dev, "https://0177.0.0.1/x", egress.ErrForm},
		{"shortened ipv4", dev, "https://127.1/x", egress.ErrForm},
		{"decimal ipv4", dev, "https://2130706433/x", egress.ErrForm},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := c.p.CheckURL(ctx, c.url)
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("%s refused: %v", c.url, err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("%s: got %v, want %v", c.url, err, c.want)
			case c.want != nil && !egress.Refused(err):
				t.Fatalf("%s: Refused(%v) is false", c.url, err)
			}
		})
	}
}

// The dialer's Control applies the same address rule to the address
// actually dialed, whatever name led there.
func TestControl(t *testing.T) {
	cases := []struct {
		p       *egress.Policy
		network string
		addr    string
		ok      bool
	}{
		{production, "tcp4", "1.1.1.1:443", true},
		{production, "tcp6", "[2606:4700:4700::1111]:443", true},
		{production, "tcp4", "127.0.0.1:443", false},
		{production, "tcp4", "10.0.0.1:80", false},
		{production, "tcp4", "169.254.169.254:80", false},
		{production, "tcp6", "[::1]:443", false},
		{production, "tcp6", "[fe80::1%eth0]:443", false},
		{production, "tcp6", "[::ffff:10.0.0.1]:443", false},
		{dev, "tcp4", "127.0.0.1:8080", true},
		{dev, "tcp6", "[::ffff:127.0.0.1]:8080", true},
		{dev, "tcp4", "10.0.0.1:80", false},
		{dev, "udp4", "1.1.1.1:53", false},
		{dev, "tcp4", "localhost:80", false},
	}
	for _, c := range cases {
		err := c.p.Control(c.network, c.addr, nil)
		if (err == nil) != c.ok {
			t.Errorf("Control(%s, %s) = %v, want ok %v", c.network, c.addr, err, c.ok)
		}
		if err != nil && !errors.Is(err, egress.ErrAddress) {
			t.Errorf("Control(%s, %s) = %v, not ErrAddress", c.network, c.addr, err)
		}
	}
}

// A refusal says what is wrong and what to do.
func TestRefusalsNameWhatToDo(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ url, want string }{
		{"http://1.1.1.1/x", "must use https (plain http is allowed only on development servers, with --allow-http)"},
		{"https://10.1.2.3/x", "has host 10.1.2.3, a private, loopback or reserved address outside the allowed networks; use a public address (a development server may allow the network with --allow-networks)"},
		{"https://localhost/x", "has host localhost, which resolves to "},
		{"https://u:p@1.1.1.1/x", "set them in the endpoint's auth"},
		{"https://0x7f000001/x", "write it as four decimal parts (a.b.c.d)"},
	} {
		if err := production.CheckURL(ctx, c.url); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to contain %q", c.url, err, c.want)
		}
	}
	err := production.Control("tcp4", "10.0.0.1:443", nil)
	if want := "resolves to 10.0.0.1, a private"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Control: %v, want it to start %q", err, want)
	}
}

// A real dial through a Dialer with Control: a loopback listener is
// refused in production before any connection and reached in dev, and the
// refusal survives the dial error's wrapping.
func TestDialerUsesControl(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func(p *egress.Policy) error {
		d := &net.Dialer{Timeout: 2 * time.Second, Control: p.Control}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(production); !egress.Refused(err) {
		t.Fatalf("production dial of loopback: %v, want a refusal", err)
	}
	if err := dial(dev); err != nil {
		t.Fatalf("dev dial of loopback: %v", err)
	}
}
