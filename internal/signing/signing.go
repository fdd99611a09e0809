// Package signing signs delivery bodies and verifies them, in the two schemes
// hookline speaks: the default HMAC scheme its receivers already verify
// (X-<Prefix>-Signature: sha256=<hex HMAC-SHA256 of the raw body>, with
// X-<Prefix>-Timestamp in ISO 8601 UTC), and Standard Webhooks v1
// (webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">). The
// default scheme's value may also be the bare hex digest, for receivers
// written that way.
// Comparisons are constant-time.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultPrefix is the header prefix of the default scheme.
const DefaultPrefix = "X-Hookline"

// TimestampLayout is the default scheme's X-<Prefix>-Timestamp format.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// Errors from verification.
var (
	ErrNoSignature  = errors.New("signature header missing")
	ErrBadSignature = errors.New("signature does not match the body")
	ErrStale        = errors.New("timestamp outside the tolerance")
	ErrBadSecret    = errors.New("malformed secret")
)

// HexSignature returns "sha256=<hex HMAC-SHA256(secret, body)>".
func HexSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	var sum [sha256.Size]byte
	var out [7 + 2*sha256.Size]byte
	copy(out[:], "sha256=")
	hex.Encode(out[7:], m.Sum(sum[:0]))
	return string(out[:])
}

// BareHexSignature returns the hex HMAC-SHA256(secret, body) alone, the
// value format of receivers that compare against a bare hexdigest.
func BareHexSignature(secret, body []byte) string {
	return HexSignature(secret, body)[len("sha256="):]
}

// VerifyHex checks a default-scheme signature header in constant time.
func VerifyHex(secret, body []byte, header string) error {
	if header == "" {
		return ErrNoSignature
	}
	if !hmac.Equal([]byte(header), []byte(HexSignature(secret, body))) {
		return ErrBadSignature
	}
	return nil
}

// Headers names the default scheme's headers for one prefix.
type Headers struct {
	Event, Delivery, Signature, Timestamp, BatchSize string
}

// HeadersFor returns the header names for prefix ("" means DefaultPrefix).
func HeadersFor(prefix string) Headers {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Headers{
		Event:     prefix + "-Event",
		Delivery:  prefix + "-Delivery",
		Signature: prefix + "-Signature",
		Timestamp: prefix + "-Timestamp",
		BatchSize: prefix + "-Batch-Size",
	}
}

// Standard Webhooks header names.
const (
	StdID        = "webhook-id"
	StdTimestamp = "webhook-timestamp"
	StdSignature = "webhook-signature"
)

// StdSecretPrefix starts a Standard Webhooks secret: whsec_<base64 key>.
const StdSecretPrefix = "whsec_"

// StdKey decodes a Standard Webhooks secret ("whsec_" + base64) to the HMAC key.
func StdKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, StdSecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("%w: want %s followed by base64", ErrBadSecret, StdSecretPrefix)
	}
	return k, nil
}

// StdSign returns "v1,<base64>" for one key.
func StdSign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// StdVerify accepts the request when any v1 signature in header matches key
// and the timestamp is within tolerance of now (tolerance 0: unchecked).
func StdVerify(key []byte, id, tsHeader, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q", ErrStale, tsHeader)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return ErrStale
		}
	}
	want := []byte(StdSign(key, id, ts, body))
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrBadSignature
}
