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

// This file holds each product's receiver-side checks, written from its
// document alone and never from hookline's signing code: a verifier that
// shared the sender's code would agree with it whatever the document says.

// errSignature marks a request whose signature, token or bearer failed
// its product's check; other errors are a body or a header out of the
// product's contract.
var errSignature = errors.New("bad signature")

// contract is what a receiver written from one product's document checks
// on each request; check returns the object ids of the events the body
// carries (the samples make them decimal numbers).
type contract struct {
	product string
	// prefix names the headers whose -Delivery value groups the attempts
	// of one delivery (the test's bookkeeping, not the product's check).
	prefix string
	check  func(r *http.Request, body []byte) ([]string, error)
}

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

// studioContract: the envelope {type, eventId, tenantId, createdUtc,
// data} alone in each POST, with the X-Momentum-* headers and the
// Momentum-Webhook/1.0 user agent.
func studioContract(secret string) contract {
	types := []string{"task.created", "task.updated", "task.deleted", "project.created", "project.updated", "project.deleted",
		"project.budget_threshold", "member.joined", "member.data_deletion_requested"}
	return contract{product: studioID, prefix: "X-Momentum", check: func(r *http.Request, body []byte) ([]string, error) {
		if !verifyMomentumSignature(body, r.Header.Get("X-Momentum-Signature"), secret) {
			return nil, errSignature
		}
		if err := jsonPOST(r, "Momentum-Webhook/1.0"); err != nil {
			return nil, err
		}
		if id := r.Header.Get("X-Momentum-Delivery"); !deliveryID.MatchString(id) {
			return nil, fmt.Errorf("X-Momentum-Delivery %q is not 12 hex bytes", id)
		}
		if err := isoUTC("X-Momentum-Timestamp", r.Header.Get("X-Momentum-Timestamp")); err != nil {
			return nil, err
		}
		var env map[string]json.RawMessage
		if err := exactObject(body, &env, "type", "eventId", "tenantId", "createdUtc", "data"); err != nil {
			return nil, err
		}
		var typ, created string
		_ = json.Unmarshal(env["type"], &typ)
		_ = json.Unmarshal(env["createdUtc"], &created)
		switch {
		case !slices.Contains(types, typ):
			return nil, fmt.Errorf("type %q is not a Momentum Studio event", typ)
		case r.Header.Get("X-Momentum-Event") != typ:
			return nil, fmt.Errorf("X-Momentum-Event %q for a %s event", r.Header.Get("X-Momentum-Event"), typ)
		}
		if err := isoUTC("createdUtc", created); err != nil {
			return nil, err
		}
		id, err := objectID(env["data"], typ[:strings.IndexByte(typ, '.')])
		return []string{id}, err
	}}
}

// proContract: {event, occurred_at, data} alone in each POST, data being
// the object itself, with a bare hex signature and a fresh timestamp.
func proContract(secret string) contract {
	return contract{product: proID, prefix: "X-Momentumpro", check: func(r *http.Request, body []byte) ([]string, error) {
		if !verifyMomentumpro(body, r.Header.Get("X-Momentumpro-Signature"), secret) {
			return nil, errSignature
		}
		if err := momentumproFresh(r.Header.Get("X-Momentumpro-Timestamp"), time.Now()); err != nil {
			return nil, err
		}
		var b map[string]json.RawMessage
		if err := exactObject(body, &b, "event", "occurred_at", "data"); err != nil {
			return nil, err
		}
		var ev, at string
		_ = json.Unmarshal(b["event"], &ev)
		_ = json.Unmarshal(b["occurred_at"], &at)
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			return nil, fmt.Errorf("occurred_at %q: %v", at, err)
		}
		if !proEvent.MatchString(ev) {
			return nil, fmt.Errorf("event %q is not a Momentumpro event", ev)
		}
		id, err := numericID(b["data"])
		return []string{id}, err
	}}
}

// momentusContract: a bearer token the receiver's own token server
// issued, on the envelope of an event of its application. The document
// leaves how the secret key authenticates a request; hookline's answer
// (README.md) is the default scheme's X-Hookline-Signature, checked here.
func momentusContract(app, secret string, bearer func(token string) bool) contract {
	return contract{product: app, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !bearer(tok) || !verifyMomentumSignature(body, r.Header.Get("X-Hookline-Signature"), secret) {
			return nil, errSignature
		}
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var env struct {
			Type        string          `json:"type"`
			Application string          `json:"application"`
			Data        json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("body: %v", err)
		}
		if env.Type != "account.updated" || env.Application != app {
			return nil, fmt.Errorf("a %s event of %q at a %s receiver", env.Type, env.Application, app)
		}
		id, err := objectID(env.Data, "account")
		return []string{id}, err
	}}
}

// eventsContract: a JSON array of reporting records, each {"msys":
// {"<class>_event": {...}}}, behind the webhook's token.
func eventsContract(token string) contract {
	kinds := map[string][]string{"message_event": {"injection", "delivery"}, "track_event": {"open", "click"}}
	return contract{product: eventsID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		if !sameToken(r.Header.Get("X-MessageSystems-Webhook-Token"), token) {
			return nil, errSignature
		}
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var batch []map[string]map[string]json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
			return nil, fmt.Errorf("body is not a non-empty array of records: %v", err)
		}
		ids := make([]string, 0, len(batch))
		for i, rec := range batch {
			msys, ok := rec["msys"]
			if len(rec) != 1 || !ok || len(msys) != 1 {
				return nil, fmt.Errorf("record %d is not {\"msys\": {\"<class>_event\": ...}}", i)
			}
			for class, raw := range msys {
				var ev struct {
					ID   string `json:"id"`
					Type string `json:"type"`
				}
				if err := json.Unmarshal(raw, &ev); err != nil || !slices.Contains(kinds[class], ev.Type) || ev.ID == "" {
					return nil, fmt.Errorf("record %d: %s of type %q", i, class, ev.Type)
				}
				ids = append(ids, ev.ID)
			}
		}
		return ids, nil
	}}
}

// momentContract: {"event": ..., "<object>": {"id": <number>, ...}}.
func momentContract() contract {
	objects := []string{"claim", "customer", "invoice", "offer", "project"}
	return contract{product: momentID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
		if err := jsonPOST(r, ""); err != nil {
			return nil, err
		}
		var b map[string]json.RawMessage
		if err := json.Unmarshal(body, &b); err != nil || len(b) != 2 {
			return nil, fmt.Errorf("body is not {event, <object>}: %s", body)
		}
		var ev string
		if json.Unmarshal(b["event"], &ev) != nil || ev == "" {
			return nil, fmt.Errorf("event %s", b["event"])
		}
		for _, o := range objects {
			if raw, ok := b[o]; ok {
				id, err := numericID(raw)
				return []string{id}, err
			}
		}
		return nil, fmt.Errorf("no Moment object in %s", body)
	}}
}

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
