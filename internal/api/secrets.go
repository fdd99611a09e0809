package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/signing"
	"go.uber.org/zap"
)

// SecretRotator replaces an endpoint's signing secret (registry.Store).
type SecretRotator interface {
	Rotate(ctx context.Context, id, secret string, overlap time.Duration) (*endpoints.Endpoint, error)
}

// Secret sizes: Standard Webhooks keys are 24 to 64 bytes; generated
// secrets take 32.
const (
	secretBytes    = 32
	minSecretBytes = 24
	maxSecretBytes = 64
	maxOverlap     = 7 * 24 * time.Hour
)

// newSecret is "whsec_" + base64 of 32 random bytes, valid in both schemes.
func newSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:])
	return signing.StdSecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// checkSecret holds a caller's own secret to its scheme's rules. The
// message never repeats the secret.
func checkSecret(scheme, secret string) error {
	if scheme == endpoints.SchemeStandard {
		k, err := signing.StdKey(secret)
		if !strings.HasPrefix(secret, signing.StdSecretPrefix) || err != nil || len(k) < minSecretBytes || len(k) > maxSecretBytes {
			return badRequest("secret", "a standard-webhooks secret is %s followed by base64 of %d to %d bytes", signing.StdSecretPrefix, minSecretBytes, maxSecretBytes)
		}
		return nil
	}
	if len(secret) < minSecretBytes || len(secret) > 256 {
		return badRequest("secret", "a secret must be %d to 256 bytes", minSecretBytes)
	}
	return nil
}

type rotateInput struct {
	Secret  *string
	Overlap *duration
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, tenant string) error {
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in rotateInput
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, true, map[string]any{"secret": &in.Secret, "overlap": &in.Overlap}); err != nil {
		return err
	}
	overlap := time.Duration(0)
	if ep.Scheme == endpoints.SchemeStandard {
		overlap = s.cfg.DefaultOverlap
		if in.Overlap != nil {
			overlap = time.Duration(*in.Overlap)
		}
		if overlap < 0 || overlap > maxOverlap {
			return badRequest("overlap", "overlap must be 0 to %s", maxOverlap)
		}
	} else if in.Overlap != nil && *in.Overlap != 0 {
		return badRequest("overlap", "hookline-scheme endpoints switch secrets at once (the next delivery uses the new one); overlap applies to standard-webhooks endpoints")
	}
	secret := newSecret()
	if in.Secret != nil {
		if err := checkSecret(ep.Scheme, *in.Secret); err != nil {
			return err
		}
		secret = *in.Secret
	}
	got, err := s.cfg.Registry.Rotate(r.Context(), ep.ID, secret, overlap)
	if err != nil {
		return s.storeErr(r, "rotate secret", ep.ID, err)
	}
	s.log.Info("endpoint secret rotated", zap.String("tenant", tenant), zap.String("endpoint", ep.ID), zap.Duration("overlap", overlap))
	v := s.viewOf(got)
	v.Secret = secret
	writeJSON(w, http.StatusOK, v)
	return nil
}

// checkURL applies the rules the sender and its dialer apply
// (internal/egress) before anything is stored, so an endpoint that could
// never be delivered to is refused with a reason instead of dead-lettering
// every delivery. A name is resolved and every address checked; one that
// does not resolve now is left to the dialer, which checks the address it
// actually dials.
func (s *Server) checkURL(ctx context.Context, raw string) error {
	return s.checkURLOf(ctx, "url", raw)
}

// checkURLOf is checkURL for the URL in field (also auth.tokenUrl: the
// token request goes out through the same dialer).
func (s *Server) checkURLOf(ctx context.Context, field, raw string) error {
	if err := s.egress.CheckURL(ctx, raw); err != nil {
		return badRequest(field, "%s %v", field, err)
	}
	return nil
}
