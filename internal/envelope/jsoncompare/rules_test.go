package jsoncompare

import (
	stdjson "encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	goccy "github.com/goccy/go-json"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/tidwall/gjson"
	"github.com/valyala/fastjson"
)

// TestRules holds the scanner to refusing each value below and logs what
// each library's validator says of it: where one accepts a value, a caller
// of that library would have to check the rule itself.
func TestRules(t *testing.T) {
	env := func(data string) string {
		return `{"type":"task.created","eventId":"e","tenantId":"t","data":` + data + `}`
	}
	for _, c := range []struct{ name, value string }{
		{"invalid UTF-8", env(`{"a":"` + "\xff" + `"}`)},
		{"overlong UTF-8", env(`{"a":"` + "\xc0\xaf" + `"}`)},
		{"UTF-8 surrogate", env(`{"a":"` + "\xed\xa0\x80" + `"}`)},
		{"lone surrogate escape", env(`{"a":"\ud800"}`)},
		{"control character", env("{\"a\":\"\x01\"}")},
		{"invalid escape", env(`{"a":"\x41"}`)},
		{"trailing data", env(`{}`) + ` x`},
		{"two objects", env(`{}`) + env(`{}`)},
		{"leading zero", env(`{"a":01}`)},
		{"nested 200 deep", env(strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200))},
		{"repeated tenantId", `{"type":"task.created","eventId":"e","tenantId":"t","tenantId":"u","data":{}}`},
		{"case variant of tenantId", `{"type":"task.created","eventId":"e","tenantId":"t","TenantId":"u","data":{}}`},
	} {
		v := []byte(c.value)
		if _, err := envelope.FromRecord(nil, v); !errors.Is(err, envelope.ErrMalformed) {
			t.Errorf("%s: FromRecord accepted %q", c.name, v)
		}
		t.Logf("%-24s accepted by: encoding/json %-5v goccy %-5v sonic %-5v gjson %-5v fastjson %v", c.name,
			stdjson.Valid(v), goccy.Valid(v), sonic.Valid(v), gjson.ValidBytes(v), fastjson.ValidateBytes(v) == nil)
	}
}
