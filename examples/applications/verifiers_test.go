package examples

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The verifiers below are transliterated from the documents' sample code,
// with the checks the contracts (contracts_test.go) share, and never
// taken from hookline's signing code: a verifier sharing the sender's
// code would agree with it whatever the document says.

// errSignature marks a request whose signature, token or bearer failed
// its product's check; other errors are a body or a header out of the
// product's contract.
var errSignature = errors.New("bad signature")

// verifyMomentumSignature transliterates Momentum Studio's sample
// verifier: the header must equal "sha256=" and the hex HMAC-SHA256 of the
// raw body keyed with the secret, compared in constant time once the
// lengths agree.
func verifyMomentumSignature(rawBody []byte, signatureHeader, secret string) bool {
	if signatureHeader == "" {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(rawBody)
	expected := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	a, b := []byte(signatureHeader), []byte(expected)
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

// verifyMomentumpro transliterates Momentumpro's sample verifier: the
// bare hex HMAC-SHA256 of the body, compared in constant time.
func verifyMomentumpro(body []byte, headerSig, secret string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	expected := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(headerSig))
}

// momentumproReplayWindow: Momentumpro receivers refuse a timestamp older
// than five minutes, so a captured request cannot be replayed later.
const momentumproReplayWindow = 5 * time.Minute

// momentumproFresh applies that rule at now.
func momentumproFresh(header string, now time.Time) error {
	ts, err := time.Parse(time.RFC3339Nano, header)
	switch {
	case err != nil:
		return fmt.Errorf("%w: X-Momentumpro-Timestamp %q is not a timestamp", errSignature, header)
	case now.Sub(ts) > momentumproReplayWindow:
		return fmt.Errorf("%w: X-Momentumpro-Timestamp %s is more than 5 minutes old", errSignature, header)
	}
	return nil
}

// sameToken compares an X-MessageSystems-Webhook-Token in constant time.
func sameToken(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

var (
	deliveryID = regexp.MustCompile(`^[0-9a-f]{24}$`)
	proEvent   = regexp.MustCompile(`^(employee|attendance|leave|expense|po|incident|payroll)\.[a-z_]+$`)
)

// jsonPOST checks the method, the content type and, when given, the user
// agent.
func jsonPOST(r *http.Request, userAgent string) error {
	switch {
	case r.Method != http.MethodPost:
		return fmt.Errorf("method %s", r.Method)
	case r.Header.Get("Content-Type") != "application/json":
		return fmt.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	case userAgent != "" && r.Header.Get("User-Agent") != userAgent:
		return fmt.Errorf("User-Agent %q, want %q", r.Header.Get("User-Agent"), userAgent)
	}
	return nil
}

// isoUTC: an ISO 8601 time in UTC ("Z").
func isoUTC(what, v string) error {
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") {
		return fmt.Errorf("%s %q is not ISO 8601 UTC", what, v)
	}
	return nil
}

// exactObject decodes body into *into and requires exactly the keys.
func exactObject(body []byte, into *map[string]json.RawMessage, keys ...string) error {
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("body is not a JSON object: %v", err)
	}
	var got []string
	for k := range *into {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		return fmt.Errorf("body has keys %v, want exactly %v", got, want)
	}
	return nil
}

// objectID is data.<object>.id, a string.
func objectID(data json.RawMessage, object string) (string, error) {
	var d map[string]json.RawMessage
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &d) != nil || json.Unmarshal(d[object], &o) != nil || o.ID == "" {
		return "", fmt.Errorf("data has no %s.id: %s", object, data)
	}
	return o.ID, nil
}

// numericID is the integer id of an object.
func numericID(raw json.RawMessage) (string, error) {
	var o struct {
		ID json.Number `json:"id"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return "", fmt.Errorf("object: %v", err)
	}
	if _, err := o.ID.Int64(); err != nil {
		return "", fmt.Errorf("object id %q is not an integer", o.ID)
	}
	return o.ID.String(), nil
}
