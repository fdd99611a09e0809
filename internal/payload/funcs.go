package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/template"
)

// funcs are the helpers a template may call beside text/template's own.
// Templates write JSON, so values from events go in through json or
// jsonStr, never bare: a quote in a task title must not end the string.
var funcs = template.FuncMap{
	"json":    toJSON,
	"jsonStr": jsonStr,
}

// toJSON encodes v as JSON (numbers keep their text, HTML characters are
// left as they are).
func toJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return string(bytes.TrimRight(b.Bytes(), "\n")), nil
}

// jsonStr renders v as text and quotes it as a JSON string; a missing or
// null value is the empty string.
func jsonStr(v any) (string, error) {
	s := ""
	switch x := v.(type) {
	case nil:
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		s = fmt.Sprint(x)
	}
	return toJSON(s)
}
