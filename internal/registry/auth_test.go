package registry

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// Endpoint credentials are sealed with the secrets: the topic's bytes hold
// none of them, while the public parts (header name, username, token URL,
// client id, scopes) stay readable, and another process following the
// topic gets the credentials back whole, also after a replacement.
func TestAuthCredentialsSealedInTopic(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		s := openStore(t, k, topic, keyK1)
		auths := map[string]*endpoints.Auth{
			"e-header": {Type: endpoints.AuthHeader, Name: "X-MessageSystems-Webhook-Token", Value: "plain-header-value-1"},
			"e-basic":  {Type: endpoints.AuthBasic, Username: "hook-user", Password: "plain-basic-password-1"},
			"e-oauth":  {Type: endpoints.AuthOAuth2, TokenURL: "https://idp.example/oauth/token", ClientID: "client-77", ClientSecret: "plain-client-secret-1", Scopes: []string{"hooks.write"}},
		}
		for id, a := range auths {
			e := endpoint(id, "t-a")
			e.Auth = a.Clone()
			mustCreate(t, s, e)
		}
		if _, err := s.Update(ctx, "e-oauth", func(e *endpoints.Endpoint) error {
			e.Auth.ClientSecret = "plain-client-secret-2"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		auths["e-oauth"].ClientSecret = "plain-client-secret-2"

		plain := []string{"plain-header-value-1", "plain-basic-password-1", "plain-client-secret-1", "plain-client-secret-2"}
		public := []string{"X-MessageSystems-Webhook-Token", "hook-user", "https://idp.example/oauth/token", "client-77", "hooks.write"}
		var all []byte
		for _, r := range readTopic(t, k, topic) {
			all = append(all, r.Key...)
			all = append(all, r.Value...)
			for _, h := range r.Headers {
				all = append(all, h.Value...)
			}
		}
		for _, p := range plain {
			if bytes.Contains(all, []byte(p)) {
				t.Fatalf("the topic holds %q in plain text", p)
			}
		}
		for _, p := range public {
			if !bytes.Contains(all, []byte(p)) {
				t.Errorf("the public part %q is not in the record", p)
			}
		}

		other := openStore(t, k, topic, keyK1)
		for id, want := range auths {
			got := other.Get(id)
			if got == nil || !reflect.DeepEqual(got.Auth, want) {
				t.Fatalf("%s: another process reads auth %+v, want %+v", id, got.Auth, want)
			}
		}
	})
}
