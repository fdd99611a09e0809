package endpoints

import (
	"errors"
	"strings"
	"testing"
)

func TestAuthValidationNamesTheField(t *testing.T) {
	base := func(a *Auth) *Endpoint {
		return &Endpoint{ID: "e", TenantID: "t", URL: "https://h.example/x", Secrets: []string{"s"}, Auth: a}
	}
	ok := []*Auth{nil, {Type: AuthNone}, {Type: AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: "v"},
		{Type: AuthBasic, Username: "u", Password: "p:w"},
		{Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "c", ClientSecret: "s", Scopes: []string{"a", "b"}}}
	for _, a := range ok {
		if err := base(a).Validate(); err != nil {
			t.Errorf("%v: %v", a, err)
		}
	}
	for field, a := range map[string]*Auth{
		"auth.type":         {Type: "digest"},
		"auth":              {Type: AuthNone, Value: "x"},
		"auth.name":         {Type: AuthHeader, Name: "Content-Type", Value: "v"},
		"auth.value":        {Type: AuthHeader, Name: "X-Token", Value: "a\r\nb"},
		"auth.username":     {Type: AuthBasic, Username: "a:b", Password: "p"},
		"auth.password":     {Type: AuthBasic, Username: "a"},
		"auth.tokenUrl":     {Type: AuthOAuth2, TokenURL: "https://u:p@idp.example/token", ClientID: "c", ClientSecret: "s"},
		"auth.clientId":     {Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientSecret: "s"},
		"auth.clientSecret": {Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "c"},
		"auth.scopes":       {Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "c", ClientSecret: "s", Scopes: []string{"a b"}},
	} {
		err := base(a).Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": "+field+": ") {
			t.Errorf("%s: got %v", field, err)
		}
	}
	e := base(nil)
	e.SignatureFormat, e.Scheme = SignatureHex, SchemeStandard
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "signatureFormat") {
		t.Errorf("hex with standard-webhooks: %v", err)
	}
}

// String, and so %v of an endpoint, never carries a credential.
func TestAuthStringRedacts(t *testing.T) {
	for _, a := range []*Auth{
		{Type: AuthHeader, Name: "X-T", Value: "secret-1"},
		{Type: AuthBasic, Username: "u", Password: "secret-1"},
		{Type: AuthOAuth2, TokenURL: "https://i/t", ClientID: "c", ClientSecret: "secret-1"},
	} {
		e := &Endpoint{ID: "e", Auth: a}
		if s := e.String() + a.String(); strings.Contains(s, "secret-1") || !strings.Contains(s, a.Type) {
			t.Errorf("%s", s)
		}
		if p := a.Public(); p.Value != "" || p.Password != "" || p.ClientSecret != "" || p.Type != a.Type {
			t.Errorf("Public kept a secret: %+v", p)
		}
	}
}
