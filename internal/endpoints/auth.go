package endpoints

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hookline/hookline/internal/egress"
)

// Authentication types: how a delivery proves itself to the receiver, on
// top of the signature. The type is fixed when the endpoint is created.
const (
	// AuthNone sends no credentials (the signature alone).
	AuthNone = "none"
	// AuthHeader sends a static token in a header of the receiver's naming.
	AuthHeader = "header"
	// AuthBasic sends HTTP Basic credentials.
	AuthBasic = "basic"
	// AuthOAuth2 fetches a bearer token with the client credentials grant.
	AuthOAuth2 = "oauth2"
)

// Signature value formats of the hookline scheme.
const (
	// SignatureSHA256 is "sha256=<hex>" (the default).
	SignatureSHA256 = "sha256"
	// SignatureHex is the bare hex digest.
	SignatureHex = "hex"
)

// Auth is an endpoint's credentials. Value, Password and ClientSecret are
// secrets: the registry seals them, and Public drops them.
type Auth struct {
	// Type is AuthNone (also when empty), AuthHeader, AuthBasic or AuthOAuth2.
	Type string `json:"type"`
	// Name and Value of the header (AuthHeader).
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
	// Username and Password (AuthBasic).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TokenURL, ClientID, ClientSecret and Scopes of the token request
	// (AuthOAuth2).
	TokenURL     string   `json:"tokenUrl,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// AuthType is e's authentication type, AuthNone when it has none.
func (e *Endpoint) AuthType() string {
	if e.Auth == nil || e.Auth.Type == "" {
		return AuthNone
	}
	return e.Auth.Type
}

// Public returns a copy without the secret parts, or nil for nil.
func (a *Auth) Public() *Auth {
	if a == nil {
		return nil
	}
	cp := a.Clone()
	cp.Value, cp.Password, cp.ClientSecret = "", "", ""
	return cp
}

// Clone deep-copies a, or returns nil for nil.
func (a *Auth) Clone() *Auth {
	if a == nil {
		return nil
	}
	cp := *a
	cp.Scopes = slices.Clone(a.Scopes)
	return &cp
}

// String names the type and the non-secret parts, so credentials printed
// by mistake never show.
func (a *Auth) String() string {
	switch {
	case a == nil || a.Type == "" || a.Type == AuthNone:
		return "auth none"
	case a.Type == AuthHeader:
		return "auth header " + a.Name + " (value redacted)"
	case a.Type == AuthBasic:
		return "auth basic " + a.Username + " (password redacted)"
	}
	return fmt.Sprintf("auth %s %s client %s scopes %v (secret redacted)", a.Type, a.TokenURL, a.ClientID, a.Scopes)
}

// reservedHeaders are set by the sender; an auth header may not replace them.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "User-Agent", "Transfer-Encoding", "Connection"}

// validate checks a against its type, naming the field as "auth.<field>".
func (a *Auth) validate() (field, msg string) {
	if a == nil {
		return "", ""
	}
	switch a.Type {
	case "", AuthNone:
		if a.Name != "" || a.Value != "" || a.Username != "" || a.Password != "" || a.TokenURL != "" || a.ClientID != "" || a.ClientSecret != "" || len(a.Scopes) > 0 {
			return "auth", "type none takes no credentials"
		}
	case AuthHeader:
		switch {
		case !isToken(a.Name):
			return "auth.name", fmt.Sprintf("want a header name such as X-Webhook-Token, got %q", a.Name)
		case slices.ContainsFunc(reservedHeaders, func(h string) bool { return strings.EqualFold(h, a.Name) }):
			return "auth.name", fmt.Sprintf("%s is set by the sender", a.Name)
		case strings.HasPrefix(strings.ToLower(a.Name), "webhook-"):
			return "auth.name", "webhook-* headers belong to the Standard Webhooks signature"
		case a.Value == "" || !printable(a.Value):
			return "auth.value", "required, printable, without line breaks"
		}
	case AuthBasic:
		switch {
		case a.Username == "" || strings.Contains(a.Username, ":") || !printable(a.Username):
			return "auth.username", "required, printable, without a colon"
		case a.Password == "" || !printable(a.Password):
			return "auth.password", "required, printable"
		}
	case AuthOAuth2:
		_, err := egress.CheckForm(a.TokenURL)
		switch {
		case err != nil:
			return "auth.tokenUrl", err.Error()
		case a.ClientID == "" || !printable(a.ClientID):
			return "auth.clientId", "required, printable"
		case a.ClientSecret == "" || !printable(a.ClientSecret):
			return "auth.clientSecret", "required, printable"
		case slices.ContainsFunc(a.Scopes, func(s string) bool { return s == "" || strings.ContainsAny(s, " \t\r\n") }):
			return "auth.scopes", "scopes are non-empty and without spaces"
		}
	default:
		return "auth.type", fmt.Sprintf("want %q, %q, %q or %q, got %q", AuthNone, AuthHeader, AuthBasic, AuthOAuth2, a.Type)
	}
	return "", ""
}

// isToken reports whether s is an HTTP field name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// printable refuses control characters (tab aside), which a header value
// cannot carry, and overlong values.
func printable(s string) bool {
	if len(s) > 4096 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
