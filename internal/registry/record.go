package registry

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
)

// Key prefixes of the records that are not endpoints.
const (
	tenantPrefix = "tenant/"
	keyPrefix    = "apikey/"
)

// writeHeader carries a write's random id, so the writer recognises its
// own record when the follower applies it.
const writeHeader = "hl-write"

// Endpoint record operations.
const (
	opCreate = "create"
	opUpdate = "update"
)

// endpointRecord is an endpoint's value in the topic. The endpoint is
// stored without its secrets; they travel sealed beside it.
type endpointRecord struct {
	Op       string              `json:"op"`
	Version  int64               `json:"version"`
	Endpoint *endpoints.Endpoint `json:"endpoint"`
	Sealed   []byte              `json:"sealedSecrets"`
	// Source says who manages the endpoint: sourceFile for one an
	// endpoints file declares, empty for one created through the API.
	// Records written before sources existed have none.
	Source string `json:"source,omitempty"`
}

// keyRecord is an API key's value: never the token, only its hash.
type keyRecord struct {
	Key
	Hash []byte `json:"sha256"`
}

// kind tells what a record key names.
type kind int

const (
	kindEndpoint kind = iota
	kindKeyUse
	kindTenant
	kindKey
	kindApp
	kindUnknown
)

func kindOf(key string) (kind, string) {
	switch {
	case strings.HasPrefix(key, keyUsePrefix):
		return kindKeyUse, key[len(keyUsePrefix):]
	case strings.HasPrefix(key, tenantPrefix):
		return kindTenant, key[len(tenantPrefix):]
	case strings.HasPrefix(key, keyPrefix):
		return kindKey, key[len(keyPrefix):]
	case strings.HasPrefix(key, appPrefix):
		return kindApp, key[len(appPrefix):]
	case strings.Contains(key, "/"):
		return kindUnknown, key
	}
	return kindEndpoint, key
}

// sealed is what a record seals: the signing secrets and, when the
// endpoint has credentials, its whole Auth. Without credentials it is
// sealed as the bare list of secrets, the form records had before Auth.
type sealed struct {
	Secrets []string        `json:"secrets"`
	Auth    *endpoints.Auth `json:"auth,omitempty"`
}

// encodeEndpoint seals e's secrets and credentials under kr and encodes
// the record; the endpoint beside them keeps only Auth's public part.
func encodeEndpoint(kr *Keyring, op string, version int64, e *endpoints.Endpoint, source string) ([]byte, []byte, error) {
	var v any = e.Secrets
	if e.Auth != nil {
		v = sealed{Secrets: e.Secrets, Auth: e.Auth}
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encode secrets: %w", err)
	}
	blob, err := kr.seal(plain, []byte(e.ID))
	if err != nil {
		return nil, nil, err
	}
	bare := *e
	bare.Secrets = nil
	bare.Auth = e.Auth.Public()
	rec, err := json.Marshal(endpointRecord{Op: op, Version: version, Endpoint: &bare, Sealed: blob, Source: source})
	if err != nil {
		return nil, nil, fmt.Errorf("encode endpoint %q: %w", e.ID, err)
	}
	return rec, blob, nil
}

// openSecrets decrypts a record's sealed secrets and credentials.
func openSecrets(kr *Keyring, id string, blob []byte) (sealed, error) {
	plain, err := kr.open(blob, []byte(id))
	if err != nil {
		return sealed{}, fmt.Errorf("endpoint %q: secrets: %w", id, err)
	}
	var out sealed
	if len(plain) > 0 && plain[0] == '[' {
		err = json.Unmarshal(plain, &out.Secrets)
	} else {
		err = json.Unmarshal(plain, &out)
	}
	if err != nil {
		return sealed{}, fmt.Errorf("endpoint %q: secrets: %w", id, err)
	}
	return out, nil
}

// randomID is prefix plus n random bytes in hex.
func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return prefix + hex.EncodeToString(b)
}

// clone deep-copies the slices of e, so a change func cannot reach a
// published value.
func clone(e *endpoints.Endpoint) *endpoints.Endpoint {
	cp := *e
	cp.Secrets = append([]string(nil), e.Secrets...)
	cp.EventTypes = append([]string(nil), e.EventTypes...)
	cp.IgnoreOrigins = append([]string(nil), e.IgnoreOrigins...)
	cp.IgnoreFields = append([]string(nil), e.IgnoreFields...)
	cp.RetrySchedule = append([]endpoints.Duration(nil), e.RetrySchedule...)
	cp.Auth = e.Auth.Clone()
	return &cp
}

// trimmed returns e without the older secrets once RotatedUntil passed,
// or e itself when nothing expired.
func trimmed(e *endpoints.Endpoint, now time.Time) *endpoints.Endpoint {
	if len(e.Secrets) < 2 || e.RotatedUntil.IsZero() || now.Before(e.RotatedUntil) {
		return e
	}
	cp := *e
	cp.Secrets = e.Secrets[:1:1]
	return &cp
}
