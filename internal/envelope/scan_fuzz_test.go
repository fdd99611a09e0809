package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// oracle reads what scan reads from value with encoding/json, by exact key,
// and says whether scan must accept it. It is only asked about values
// json.Valid accepts.
type oracle struct {
	meta   Meta
	accept bool   // the fields are there, of the right types, each once
	why    string // why not
	// strict: value also avoids what scan refuses on purpose and
	// json.Valid allows, so scan must accept it when accept is set.
	strict bool
}

func consult(t *testing.T, value []byte) oracle {
	var o oracle
	// scan refuses on purpose: invalid UTF-8, lone surrogate escapes (a
	// \ud prefix is a cheap over-approximation), nesting past maxNesting.
	lower := bytes.ToLower(value)
	o.strict = utf8.Valid(value) && !bytes.Contains(lower, []byte(`\ud`)) && nesting(value) <= maxNesting
	no := func(why string) oracle { o.why = why; return o }

	trimmed := bytes.TrimLeft(value, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return no("not an object")
	}
	// Every top-level key, repeats included.
	dec := json.NewDecoder(bytes.NewReader(value))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("valid JSON, yet: %v", err)
	}
	folds := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("valid JSON, yet: %v", err)
		}
		key := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("valid JSON, yet: %v", err)
		}
		for _, name := range routingKeys {
			if strings.EqualFold(key, name) {
				if key != name {
					return no("case variant of " + name)
				}
				if folds[name]++; folds[name] > 1 {
					return no("duplicate " + name)
				}
			}
		}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(value, &top); err != nil {
		t.Fatalf("valid JSON object, yet: %v", err)
	}
	str := func(name string, required bool) (string, bool) {
		raw, ok := top[name]
		if !ok {
			return "", !required
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, !required || s != ""
	}
	var ok bool
	m := &o.meta
	if m.Type, ok = str("type", true); !ok || !IsTypeName(m.Type) {
		return no("type")
	}
	if m.TenantID, ok = str("tenantId", true); !ok {
		return no("tenantId")
	}
	if m.EventID, ok = str("eventId", true); !ok {
		return no("eventId")
	}
	if m.Origin, ok = str("origin", false); !ok {
		return no("origin")
	}
	if m.Application, ok = str("application", false); !ok {
		return no("application")
	}
	data, ok := top["data"]
	if !ok || data[0] != '{' {
		return no("data")
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(data, &inner); err != nil {
		t.Fatal(err)
	}
	if obj := inner[ObjectName(m.Type)]; len(obj) > 0 && obj[0] == '{' {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(obj, &fields); err != nil {
			t.Fatal(err)
		}
		switch id := fields["id"]; {
		case len(id) == 0:
		case id[0] == '"':
			_ = json.Unmarshal(id, &m.ObjectID)
		case id[0] == '-' || id[0] >= '0' && id[0] <= '9':
			m.ObjectID = string(id)
		}
	}
	if IsUpdate(m.Type) {
		var d map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		m.Changed = ChangedFields(m.Type, d)
	}
	o.accept = true
	return o
}

// nesting is the deepest nesting of arrays and objects in valid JSON.
func nesting(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

func FuzzScan(f *testing.F) {
	bench, _ := benchRecord(f)
	env := func(head, data string) string {
		return `{` + head + `"type":"task.updated","eventId":"e-1","tenantId":"t-A","origin":"api","data":` + data + `}`
	}
	for _, s := range []string{
		string(bench),
		minimal,
		env("", `{"task":{"id":"a","s":1},"before":{"id":"a","s":2}}`),
		env(`"createdUtc":"2026-04-30T14:22:01.456Z",`, `{"task":{"id":7},"before":{"id":7,"gone":null}}`),
		// Changed fields: the same value in other text, repeats, the object
		// called before, numbers out of float64's range.
		env("", `{"task":{"n":1.0,"s":"\u0041","o":{"a":[1, 2],"b":null},"k":1e400},"before":{"o":{ "b":null,"a":[1.0,2e0]},"n":1,"s":"A","k":1e400}}`),
		env("", `{"task":{"a":1,"a":2,"\u0062":3},"before":{"b":3,"a":2,"a":1}}`),
		env("", `{"task":{"x":1e400,"y":"1","z":[],"w":{}},"before":{"x":1E400,"y":1,"z":{},"w":[]}}`),
		env("", `{"task":{"a":[1,[2,{"c":"d"}]]},"task":{"a":[1,[2,{"c":"e"}]]},"before":{"a":[1,[2,{"c":"d"}]]}}`),
		`{"type":"before.updated","eventId":"e","tenantId":"t","data":{"before":{"id":"b","x":1}}}`,
		`{"type":"task.updated","eventId":"e","tenantId":"t","data":{"task":[],"before":{}}}`,
		" \t\n" + minimal + "\r\n ",
		// Trailing data and other framing.
		minimal + "," + strings.Replace(minimal, `"t"`, `"u"`, 1),
		minimal + minimal,
		minimal + " x",
		"[" + minimal + "]",
		"", " ", "null", "{}", "[]", `"x"`, "0", "{", "}",
		`not json at all`,
		// Key spelling: case variants, duplicates, escapes.
		`{"type":"task.created","eventId":"e","tenantId":"t-B","TenantID":"t-A","data":{}}`,
		`{"TYPE":"task.created","type":"task.created","eventId":"e","tenantId":"t","data":{}}`,
		`{"type":"task.created","eventId":"e","tenantId":"t-B","tenantId":"t-A","data":{}}`,
		`{"type":"task.created","eventId":"e","tenantId":"t","data":{},"data":{"task":{"id":"x"}}}`,
		`{"type":"task.created","eventId":"e","tenantId":"t","tenant\u0049d":"u","data":{}}`,
		`{"\u0074ype":"task\u002ecreated","eventI\u0064":"e\"1\\","tenantId":"t-\u00e9\ud83d\ude00","d\u0061ta":{"t\u0061sk":{"\u0069d":"x\n1"}}}`,
		`{"type":"task.created","eventId":"e","tenantId":"t","origin":null,"data":{}}`,
		`{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":{"id":"a","id":"b"},"task":{"id":"c"}}}`,
		// Type names.
		`{"type":"task.created\r\n","eventId":"e","tenantId":"t","data":{}}`,
		`{"type":"Task.created","eventId":"e","tenantId":"t","data":{}}`,
		`{"type":"task","eventId":"e","tenantId":"t","data":{}}`,
		`{"type":"a.b.c_1","eventId":"e","tenantId":"t","data":{"a":{"id":-0.5e-3}}}`,
		// Strings and UTF-8.
		`{"type":"a.b","eventId":"e","tenantId":"t-` + "\xff" + `","data":{}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"s":"` + "\xc0\xaf\xed\xa0\x80" + `"}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"s":"\ud800"}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"s":"\udc00\ud800"}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"s":"\x41"}}`,
		"{\"type\":\"a.b\",\"eventId\":\"e\x00\",\"tenantId\":\"t\",\"data\":{}}",
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"s":"日本\u2028\/"}}`,
		// Numbers and literals.
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":[0,-0,1.5,-1e5,1E+5,2e-7,123456789012345678901234567890,1e999]}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":01}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":1.}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":-}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":1e+}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":[true,false,null,tru]}}`,
		// Nesting.
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"a":` + nest(maxNesting-2, "1") + `}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":{"a":` + nest(maxNesting-1, "1") + `}}`,
		`{"type":"a.b","eventId":"e","tenantId":"t","data":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 201),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		got, err := scan(value)
		valid := json.Valid(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if valid {
				if o := consult(t, value); o.accept && o.strict {
					t.Fatalf("rejected an acceptable envelope %q: %v", value, err)
				}
			}
			return
		}
		if !valid {
			t.Fatalf("accepted %q, which is not valid JSON", value)
		}
		if !utf8.Valid(value) || nesting(value) > maxNesting {
			t.Fatalf("accepted %q: invalid UTF-8 or nested too deeply", value)
		}
		o := consult(t, value)
		if !o.accept {
			t.Fatalf("accepted %q, which encoding/json reads as unacceptable: %s", value, o.why)
		}
		got.Changed = got.ChangedFields()
		got.data = nil
		if !reflect.DeepEqual(got, o.meta) {
			t.Fatalf("scan read %q as\n%+v\nencoding/json as\n%+v", value, got, o.meta)
		}
	})
}
