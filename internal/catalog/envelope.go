package catalog

import (
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/internal/envelope"
)

// typePattern is envelope.schema.json's pattern for "type".
var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// CheckEnvelope applies envelope.schema.json's rules to the fields of a
// typed envelope, whose shape (no extra fields, data an object) the Go type
// already guarantees. The producer calls it on every event instead of the
// generic validator, which costs several microseconds for these five
// strings; TestCheckEnvelopeAgreesWithSchema holds the two to the same
// answers.
func CheckEnvelope(typ, eventID, tenantID, createdUTC, origin string) error {
	bad := func(ptr, reason string) error { return &SchemaError{Type: typ, Pointer: ptr, Reason: reason} }
	switch {
	case !envelope.IsTypeName(typ):
		return bad("/type", "does not match pattern "+typePattern.String())
	case eventID == "" || utf8.RuneCountInString(eventID) > 512:
		return bad("/eventId", "length must be between 1 and 512")
	case tenantID == "" || utf8.RuneCountInString(tenantID) > 256:
		return bad("/tenantId", "length must be between 1 and 256")
	case utf8.RuneCountInString(origin) > 256:
		return bad("/origin", "length must be at most 256")
	case !isDateTime(createdUTC):
		return bad("/createdUtc", "is not valid date-time")
	}
	return nil
}

// isDateTime accepts RFC 3339 date-times, as the schema's format does.
func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
