package api

import (
	"context"
	"slices"

	"github.com/hookline/hookline/internal/endpoints"
)

// authInput is the "auth" object of a create or patch; nil fields were
// not sent.
type authInput struct {
	Type, Name, Value, Username, Password, TokenURL, ClientID, ClientSecret *string
	Scopes                                                                  *[]string
}

// UnmarshalJSON decodes an auth object by exact field name
// (decodeFields), so a typo in a credential's name is an error naming it
// ("auth.valu") rather than a credential dropped.
func (in *authInput) UnmarshalJSON(b []byte) error {
	var a authInput
	err := decodeFields(b, "auth", map[string]any{
		"type": &a.Type, "name": &a.Name, "value": &a.Value, "username": &a.Username, "password": &a.Password,
		"tokenUrl": &a.TokenURL, "clientId": &a.ClientID, "clientSecret": &a.ClientSecret, "scopes": &a.Scopes,
	})
	if err != nil {
		return err
	}
	*in = a
	return nil
}

// over returns cur with the sent fields replaced, as a new value (cur
// may be a published endpoint's). A type of "none" gives nil.
func (in *authInput) over(cur *endpoints.Auth) *endpoints.Auth {
	a := cur.Clone()
	if a == nil {
		a = &endpoints.Auth{}
	}
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&a.Type, in.Type}, {&a.Name, in.Name}, {&a.Value, in.Value}, {&a.Username, in.Username}, {&a.Password, in.Password},
		{&a.TokenURL, in.TokenURL}, {&a.ClientID, in.ClientID}, {&a.ClientSecret, in.ClientSecret}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if in.Scopes != nil {
		a.Scopes = slices.Clone(*in.Scopes)
	}
	none := a.Type == endpoints.AuthNone || a.Type == ""
	if none && a.Name+a.Value+a.Username+a.Password+a.TokenURL+a.ClientID+a.ClientSecret == "" && len(a.Scopes) == 0 {
		return nil
	}
	return a
}

// createAuth sets a new endpoint's auth; the type is required.
func createAuth(e *endpoints.Endpoint, in *authInput) error {
	if in == nil {
		return nil
	}
	if in.Type == nil || *in.Type == "" {
		return badRequest("auth.type", `auth.type is required: "none", "header", "basic" or "oauth2"`)
	}
	e.Auth = in.over(nil)
	return nil
}

// patchAuth replaces credentials of the endpoint's own type; the type
// itself is fixed at create.
func patchAuth(e *endpoints.Endpoint, in *authInput) error {
	if in == nil {
		return nil
	}
	if in.Type != nil && *in.Type != e.AuthType() {
		return badRequest("auth.type", "the authentication type is fixed when the endpoint is created (%s); create a new endpoint to change it", e.AuthType())
	}
	e.Auth = in.over(e.Auth)
	return nil
}

// checkAuthURL holds an OAuth2 token URL to the endpoint URL's network rules.
func (s *Server) checkAuthURL(ctx context.Context, e *endpoints.Endpoint) error {
	if e.AuthType() != endpoints.AuthOAuth2 {
		return nil
	}
	return s.checkURLOf(ctx, "auth.tokenUrl", e.Auth.TokenURL)
}

// authView is an endpoint's auth as reads show it: the type and the parts
// that are not secret.
type authView struct {
	Type     string   `json:"type"`
	Name     string   `json:"name,omitempty"`
	Username string   `json:"username,omitempty"`
	TokenURL string   `json:"tokenUrl,omitempty"`
	ClientID string   `json:"clientId,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
}

func authViewOf(e *endpoints.Endpoint) authView {
	p := e.Auth.Public()
	if p == nil {
		return authView{Type: endpoints.AuthNone}
	}
	return authView{Type: e.AuthType(), Name: p.Name, Username: p.Username, TokenURL: p.TokenURL, ClientID: p.ClientID, Scopes: p.Scopes}
}
