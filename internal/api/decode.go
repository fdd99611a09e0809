package api

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// readBody reads a request body of at most limit bytes; a longer one is
// answered 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", "request body is over the %d-byte limit", tooBig.Limit)
	}
	if err != nil {
		return nil, badRequest("", "reading the request body: %v", err)
	}
	return raw, nil
}

// decodeBody reads at most limit bytes of one JSON object into fields by
// name (decodeFields); every management route decodes its body here. A
// key that appears twice in one object, at any depth, is refused with its
// path in field ("auth.value"). An empty body is an empty object when
// optional.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, optional bool, fields map[string]any) error {
	raw, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(raw) == 0 && optional {
		return nil
	}
	if p := duplicateKey(raw); p != nil {
		return duplicateErr(p.dotted(), p)
	}
	return decodeFields(raw, "", fields)
}

// duplicateErr answers a repeated key, named field as the route names
// fields.
func duplicateErr(field string, p jsonPath) error {
	return badRequest(field, "duplicate key %q at %s: send each field once (decoders disagree on which copy counts)", p.last(), field)
}

// decodeFields decodes the JSON object raw, which is the field at path
// ("" for the whole body), into fields by name, so every type error or
// unknown field names the field at fault. Names match exactly, case
// included: encoding/json would take "Name" for "name", so a body holding
// both would have one silently win. Any other key is an unknown field,
// and one that differs from a field only in case is told which. Members
// are decoded in key order, so of several bad fields the same one is
// named every time. Objects inside that decode through decodeFields
// (auth, payload) return their errors as they are, naming their own
// fields.
func decodeFields(raw []byte, path string, fields map[string]any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		if path == "" {
			return badRequest("", "the request body must be one JSON object")
		}
		return badRequest(path, "%s must be a JSON object", path)
	}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		field := name
		if path != "" {
			field = path + "." + name
		}
		dst, ok := fields[name]
		if !ok {
			return unknownField(field, name, fields)
		}
		if err := json.Unmarshal(obj[name], dst); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return ae
			}
			return badRequest(field, "%s: %s", field, fieldErr(err))
		}
	}
	return nil
}

// unknownField refuses a key fields do not have, pointing a case variant
// at the name it resembles.
func unknownField(field, name string, fields map[string]any) error {
	for known := range fields {
		if strings.EqualFold(known, name) {
			return badRequest(field, "unknown field %q: field names match exactly, case included; did you mean %q?", field, known)
		}
	}
	return badRequest(field, "unknown field %q", field)
}

// fieldErr words a decoding error without repeating Go type names.
func fieldErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "wrong type: want " + jsonType(te.Type.Kind().String()) + ", got " + te.Value
	}
	return err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	}
	return kind
}
