package envelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// minimal is the smallest envelope scan accepts.
const minimal = `{"type":"task.created","eventId":"e","tenantId":"t","data":{}}`

// nest wraps inner in n arrays.
func nest(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

func TestScanAccepts(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        Meta
	}{
		{"minimal", minimal, Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
		{"space around and inside", " \r\n\t{ \"type\" : \"task.created\" ,\n\"eventId\":\"e\", \"tenantId\":\"t\",\"data\" : { } } \n",
			Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
		{"escaped values", `{"type":"task\u002ecreated","eventId":"a\"b\\c\/d\n","tenantId":"t-\u00e9\ud83d\ude00","origin":"\u0061pi","data":{}}`,
			Meta{Type: "task.created", EventID: "a\"b\\c/d\n", TenantID: "t-é😀", Origin: "api"}},
		{"escaped keys", `{"\u0074ype":"task.created","eventI\u0064":"e","tenant\u0049d":"t","d\u0061ta":{"t\u0061sk":{"\u0069d":"x\u0031"}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t", ObjectID: "x1"}},
		{"other fields, repeated", `{"x":1,"x":2,"type":"task.created","eventId":"e","tenantId":"t","createdUtc":"2026-04-30T14:22:01.456Z","data":{},"Created":[]}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
		{"numbers", `{"type":"a.b","eventId":"e","tenantId":"t","data":{"n":[0,-0,1,-1.5,1e5,1E+5,2e-7,-0.0e0,123456789012345678901234567890,1.7976931348623157e309]}}`,
			Meta{Type: "a.b", EventID: "e", TenantID: "t"}},
		{"literals and nesting", `{"type":"a.b","eventId":"e","tenantId":"t","data":{"a":[true,false,null,{"b":[{}]},[]],"s":"日本\u2028"}}`,
			Meta{Type: "a.b", EventID: "e", TenantID: "t"}},
		{"deepest allowed", `{"type":"a.b","eventId":"e","tenantId":"t","data":{"a":` + nest(maxNesting-2, "1") + `}}`,
			Meta{Type: "a.b", EventID: "e", TenantID: "t"}},
		{"numeric id", `{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":{"id":-1.5e3}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t", ObjectID: "-1.5e3"}},
		{"last of repeated object and id", `{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":{"id":"a"},"task":{"id":"b","id":"c"}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t", ObjectID: "c"}},
		{"id neither string nor number", `{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":{"id":true}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
		{"object not an object", `{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":"x","project":{"id":"p"}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
		{"id inside a nested object only", `{"type":"task.created","eventId":"e","tenantId":"t","data":{"task":{"sub":{"id":"no"},"list":[{"id":"no"}]}}}`,
			Meta{Type: "task.created", EventID: "e", TenantID: "t"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := scan([]byte(c.value))
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(c.value)) {
				t.Fatal("the case is not valid JSON")
			}
			got.data = nil
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("scan = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestScanRejects(t *testing.T) {
	env := func(data string) string { return `{"type":"a.b","eventId":"e","tenantId":"t","data":` + data + `}` }
	for _, c := range []struct{ name, value, want string }{
		{"empty", ``, "value is empty"},
		{"only space", " \n", "value is empty"},
		{"null", `null`, "value is not a JSON object (byte 0 is 'n')"},
		{"array", `[` + minimal + `]`, "value is not a JSON object (byte 0 is '[')"},
		{"string", `"x"`, "not a JSON object"},
		{"trailing object", minimal + `,` + minimal, "trailing data after the object at byte 62"},
		{"trailing garbage", minimal + ` x`, "trailing data after the object at byte 63"},
		{"trailing NUL", minimal + "\x00", "trailing data"},
		{"cut short", minimal[:40], "invalid JSON at byte"},
		{"unterminated string", `{"type":"a.b`, "invalid JSON at byte 8: unterminated string"},
		{"trailing comma", `{"type":"a.b",}`, "want a string key"},
		{"missing comma", `{"type":"a.b" "eventId":"e"}`, "want ',' or '}'"},
		{"missing colon", `{"type" "a.b"}`, "want ':'"},
		{"single quotes", `{'type':'a.b'}`, "want a string key"},
		{"invalid UTF-8 in a value", env(`{"s":"t-` + "\xff" + `"}`), "invalid UTF-8 in a string"},
		{"invalid UTF-8 in a routing value", `{"type":"a.b","eventId":"e","tenantId":"t-` + "\xc3" + `","data":{}}`, "invalid UTF-8"},
		{"invalid UTF-8 in a key", env(`{"` + "\xe2\x82" + `":1}`), "invalid UTF-8"},
		{"overlong UTF-8", env(`{"s":"` + "\xc0\xaf" + `"}`), "invalid UTF-8"},
		{"UTF-8 surrogate", env(`{"s":"` + "\xed\xa0\x80" + `"}`), "invalid UTF-8"},
		{"raw newline in a string", env(`{"s":"a` + "\n" + `b"}`), `control character '\n'`},
		{"bad escape", env(`{"s":"\x41"}`), "invalid escape 'x'"},
		{"short unicode escape", env(`{"s":"\u12"}`), `invalid \u escape`},
		{"lone high surrogate", env(`{"s":"\ud800"}`), `unpaired surrogate \ud800`},
		{"lone low surrogate", env(`{"s":"\udc00x"}`), `unpaired surrogate \udc00`},
		{"high then high", env(`{"s":"\ud800\ud800"}`), "unpaired surrogate"},
		{"leading zero", env(`{"n":01}`), "unexpected '1'"},
		{"point without digits", env(`{"n":1.}`), "no digits after the point"},
		{"leading point", env(`{"n":.5}`), "want a value"},
		{"bare minus", env(`{"n":-}`), "invalid number"},
		{"empty exponent", env(`{"n":1e+}`), "no digits in the exponent"},
		{"plus sign", env(`{"n":+1}`), "want a value"},
		{"hex", env(`{"n":0x10}`), "unexpected 'x'"},
		{"NaN", env(`{"n":NaN}`), "want a value"},
		{"short literal", env(`{"b":tru}`), "invalid literal, want true"},
		{"capital literal", env(`{"b":True}`), "want a value"},
		{"too deep", env(`{"a":` + nest(maxNesting-1, "1") + `}`), "nested deeper than 128 levels"},
		{"too deep in objects", env(strings.Repeat(`{"a":`, maxNesting) + `1` + strings.Repeat(`}`, maxNesting)), "nested deeper than 128 levels"},
		{"missing type", `{"eventId":"e","tenantId":"t","data":{}}`, "missing type"},
		{"empty type", `{"type":"","eventId":"e","tenantId":"t","data":{}}`, "empty type"},
		{"type not a string", `{"type":1,"eventId":"e","tenantId":"t","data":{}}`, "type is not a string"},
		{"type null", `{"type":null,"eventId":"e","tenantId":"t","data":{}}`, "type is not a string"},
		{"type capitalised", `{"type":"Task.created","eventId":"e","tenantId":"t","data":{}}`, `type "Task.created" does not match`},
		{"type of one segment", `{"type":"task","eventId":"e","tenantId":"t","data":{}}`, "does not match"},
		{"type with CR LF", `{"type":"task.created\r\n","eventId":"e","tenantId":"t","data":{}}`, `type "task.created\r\n" does not match`},
		{"type with a space", `{"type":"task.created ","eventId":"e","tenantId":"t","data":{}}`, "does not match"},
		{"missing tenant", `{"type":"a.b","eventId":"e","data":{}}`, "missing tenantId"},
		{"empty tenant", `{"type":"a.b","eventId":"e","tenantId":"","data":{}}`, "empty tenantId"},
		{"tenant an object", `{"type":"a.b","eventId":"e","tenantId":{"id":"t"},"data":{}}`, "tenantId is not a string"},
		{"missing event id", `{"type":"a.b","tenantId":"t","data":{}}`, "missing eventId"},
		{"empty event id", `{"type":"a.b","eventId":"","tenantId":"t","data":{}}`, "empty eventId"},
		{"origin null", `{"type":"a.b","eventId":"e","tenantId":"t","origin":null,"data":{}}`, "origin is not a string"},
		{"missing data", `{"type":"a.b","eventId":"e","tenantId":"t"}`, "missing data"},
		{"data null", env(`null`), "data is not an object"},
		{"data an array", env(`[{}]`), "data is not an object"},
		{"duplicate tenant", `{"type":"a.b","eventId":"e","tenantId":"t","tenantId":"u","data":{}}`, `duplicate key "tenantId" at byte 43`},
		{"duplicate data", `{"type":"a.b","eventId":"e","tenantId":"t","data":{},"data":{}}`, `duplicate key "data"`},
		{"duplicate through an escape", `{"type":"a.b","eventId":"e","tenantId":"t","tenant\u0049d":"u","data":{}}`, "duplicate key"},
		{"case variant", `{"type":"a.b","eventId":"e","tenantId":"t","TenantID":"u","data":{}}`, `key "TenantID" at byte 43 is a case variant of "tenantId"`},
		{"case variant alone", `{"type":"a.b","eventId":"e","TENANTID":"u","data":{}}`, `is a case variant of "tenantId"`},
		{"case variant through an escape", `{"Typ\u0065":"a.b","type":"a.b","eventId":"e","tenantId":"t","data":{}}`, `key "Type" at byte 1 is a case variant of "type"`},
		{"case variant of data", `{"type":"a.b","eventId":"e","tenantId":"t","data":{},"Data":[]}`, `case variant of "data"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := scan([]byte(c.value))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrMalformed saying %s", err, c.want)
			}
		})
	}
}

// TestSpecial8MatchesPlain puts every byte value at every position of a
// word of plain bytes, then every pair at every pair of positions: str
// takes the lowest mark for the first byte that is not plain.
func TestSpecial8MatchesPlain(t *testing.T) {
	for c := 0; c < 256; c++ {
		for p := 0; p < 8; p++ {
			w := []byte("abcdefgh")
			w[p] = byte(c)
			if got := special8(binary.LittleEndian.Uint64(w)); (got != 0) != !plain[c] || got != 0 && bits.TrailingZeros64(got)/8 != p {
				t.Fatalf("special8(%q) = %#x with %#x at %d", w, got, c, p)
			}
		}
	}
	for c := 0; c < 256; c++ {
		for d := 0; d < 256; d++ {
			for p := 0; p < 8; p++ {
				for q := p + 1; q < 8; q++ {
					w := []byte("abcdefgh")
					w[p], w[q] = byte(c), byte(d)
					want := 8
					switch {
					case !plain[c]:
						want = p
					case !plain[d]:
						want = q
					}
					if got := bits.TrailingZeros64(special8(binary.LittleEndian.Uint64(w))) / 8; got != want {
						t.Fatalf("special8(%q) marks byte %d first, want %d", w, got, want)
					}
				}
			}
		}
	}
}

func TestScanErrorsStayShort(t *testing.T) {
	long := strings.Repeat("x", 10000)
	_, err := FromRecord([]kgo.RecordHeader{{Key: HeaderTenant, Value: []byte(long)}}, []byte(minimal))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("err of %d bytes: %.100v", len(err.Error()), err)
	}
}

// TestChangedFieldsFromData holds the lazy changed fields of a headerless
// record to ChangedFields over the decoded data.
func TestChangedFieldsFromData(t *testing.T) {
	// Objects of more members than indexAbove, with repeats and escaped
	// keys, in both orders.
	var wide, wideBefore []string
	for i := range 3 * indexAbove {
		wide = append(wide, fmt.Sprintf(`"k%d":%d`, i, i%7))
		wideBefore = append(wideBefore, fmt.Sprintf(`"\u006b%d":%d`, 3*indexAbove-1-i, (3*indexAbove-1-i)%5))
	}
	wide = append(wide, `"k3":"last"`)
	for _, c := range []struct{ typ, data string }{
		{"task.updated", `{"task":{` + strings.Join(wide, ",") + `},"before":{` + strings.Join(wideBefore, ",") + `}}`},
		{"task.updated", `{"task":{` + strings.Join(wide, ",") + `,"extra":1},"before":{"o":{` + strings.Join(wide, ",") + `}}}`},
		{"task.updated", `{"task":{"o":{` + strings.Join(wide, ",") + `}},"before":{"o":{` + strings.Join(wideBefore, ",") + `}}}`},
		{"task.updated", `{"task":{"o":{` + strings.Join(wide, ",") + `}},"before":{"o":{` + strings.Join(wide[1:], ",") + `,` + wide[0] + `}}}`},
		{"task.updated", `{"task":{"s":"caf\u00e9","t":"\"","u":"a\\"},"before":{"s":"café","t":"\u0022","u":"a\u005c"}}`},
		{"task.updated", `{"task":{"n":-0,"m":1e400,"l":100,"z":0.1},"before":{"n":0,"m":1e400,"l":1e2,"z":1e-1}}`},
		{"before.updated", `{"before":{"id":"1","x":1}}`},
		{"task.updated", `{"task":{"id":"1","status":"Done","n":2},"before":{"id":"1","status":"Todo","n":2.0}}`},
		{"task.updated", `{"task":{"id":"1","due":"x","h":120},"before":{"id":"1","seenUtc":"y","h":1.2e2}}`},
		{"task.updated", `{"task":{"id":"1","m":["a","b"],"o":{"x":1}},"before":{"id":"1","m":["a"],"o":{"x":1}}}`},
		{"task.updated", `{"task":{"id":"1"},"before":{"id":"1"}}`},
		{"task.updated", `{"task":{"id":"1","s":"a"},"before":{"id":"1","s":"b"},"task":{"id":"1","s":"b"}}`},
		{"task.updated", `{"task":{"id":"1"}}`},
		{"task.updated", `{"task":[],"before":{}}`},
		{"task.created", `{"task":{"id":"1"},"before":{"id":"2"}}`},
		{"project.budget.updated", `{"project":{"id":"1","b":1},"before":{"id":"1","b":2}}`},
	} {
		value := []byte(`{"type":"` + c.typ + `","eventId":"e","tenantId":"t","data":` + c.data + `}`)
		m, err := FromRecord(nil, value)
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(c.data)))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			t.Fatal(err)
		}
		var want []string
		if IsUpdate(c.typ) {
			want = ChangedFields(c.typ, data)
		}
		if got := m.ChangedFields(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: changed %#v, want %#v", c.typ, c.data, got, want)
		}
		if got := m.ChangedFields(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: second call %#v, want %#v", c.typ, c.data, got, want)
		}
	}
}

// within reports whether s's bytes lie inside b.
func within(s string, b []byte) bool {
	if s == "" {
		return true
	}
	p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&b[0]))
	return p >= start && p+uintptr(len(s)) <= start+uintptr(len(b))
}

func TestFromRecordSharesTheValueAndAllocatesNothing(t *testing.T) {
	value, headers := benchRecord(t)
	m, err := FromRecord(headers, value)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{m.Type, m.TenantID, m.EventID, m.ObjectID, m.Origin} {
		if s == "" || !within(s, value) {
			t.Fatalf("%q is empty or a copy, not a view of the value", s)
		}
	}
	for name, h := range map[string][]kgo.RecordHeader{"headers": headers, "headerless": nil} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := FromRecord(h, value); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per record, want none", name, n)
		}
	}
}

// TestRoutingKeysFoldOnlyInASCII guards routingKey's length check: it holds
// while no routing key's name has a letter that a non-ASCII character folds
// to.
func TestRoutingKeysFoldOnlyInASCII(t *testing.T) {
	for _, name := range routingKeys {
		for _, c := range name {
			for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
				if f >= utf8.RuneSelf {
					t.Errorf("%q: %q folds to %q, so a case variant may be longer", name, c, f)
				}
			}
		}
	}
}
