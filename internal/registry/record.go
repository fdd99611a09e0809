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
	kindTenant
	kindKey
	kindUnknown
)

func kindOf(key string) (kind, string) {
	switch {
	case strings.HasPrefix(key, tenantPrefix):
		return kindTenant, key[len(tenantPrefix):]
	case strings.HasPrefix(key, keyPrefix):
		return kindKey, key[len(keyPrefix):]
	case strings.Contains(key, "/"):
		return kindUnknown, key
	}
	return kindEndpoint, key
}

// encodeEndpoint seals e's secrets under kr and encodes the record.
func encodeEndpoint(kr *Keyring, op string, version int64, e *endpoints.Endpoint) ([]byte, []byte, error) {
	plain, err := json.Marshal(e.Secrets)
	if err != nil {
		return nil, nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err := kr.seal(plain, []byte(e.ID))
	if err != nil {
		return nil, nil, err
	}
	bare := *e
	bare.Secrets = nil
	v, err := json.Marshal(endpointRecord{Op: op, Version: version, Endpoint: &bare, Sealed: sealed})
	if err != nil {
		return nil, nil, fmt.Errorf("encode endpoint %q: %w", e.ID, err)
	}
	return v, sealed, nil
}

// openSecrets decrypts a record's sealed secrets.
func openSecrets(kr *Keyring, id string, sealed []byte) ([]string, error) {
	plain, err := kr.open(sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: secrets: %w", id, err)
	}
	var secrets []string
	if err := json.Unmarshal(plain, &secrets); err != nil {
		return nil, fmt.Errorf("endpoint %q: secrets: %w", id, err)
	}
	return secrets, nil
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
