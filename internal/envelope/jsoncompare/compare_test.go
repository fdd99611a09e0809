package jsoncompare

import (
	stdjson "encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	goccy "github.com/goccy/go-json"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/tidwall/gjson"
	"github.com/valyala/fastjson"
)

// records are n catalog events as the producer writes them.
func records(tb testing.TB, n int) [][]byte {
	gen := demo.NewGenerator(20260101)
	at := time.Date(2026, 4, 30, 14, 22, 1, 0, time.UTC)
	values := make([][]byte, n)
	for i := range values {
		e := gen.Next()
		e.TenantID = "t-bench"
		e.CreatedUTC = envelope.NowUTC(at.Add(time.Duration(i) * time.Millisecond))
		e.EventID = fmt.Sprintf("%s:%d:%s", e.Type, i, e.CreatedUTC)
		v, err := envelope.AppendJSON(nil, &e)
		if err != nil {
			tb.Fatal(err)
		}
		values[i] = v
	}
	return values
}

var routing = [...]string{"type", "tenantId", "eventId", "origin", "application", "data"}

// keysOK applies the top-level key rules: no case variants, no repeats.
func keysOK(key string, seen *int) bool {
	for i, name := range routing {
		if len(key) == len(name) && strings.EqualFold(key, name) {
			if key != name || *seen&(1<<i) != 0 {
				return false
			}
			*seen |= 1 << i
		}
	}
	return true
}

// meta is what routing reads.
type meta struct{ typ, tenant, event, origin, app, id string }

// bench runs f over the records, one a op.
func bench(b *testing.B, f func([]byte) bool) {
	values := records(b, 4096)
	size := 0
	for _, v := range values {
		size += len(v)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size / len(values)))
	i := 0
	for b.Loop() {
		if !f(values[i]) {
			b.Fatalf("refused %s", values[i])
		}
		if i++; i == len(values) {
			i = 0
		}
	}
}

// BenchmarkScan: hookline's FromRecord validates and reads the routing
// fields in one pass. The Valid lines only validate (and let through what
// TestRules shows); the all-rules lines add what a library leaves out and
// read the same fields, except the depth limit and lone surrogates, which
// would take another pass.
func BenchmarkScan(b *testing.B) {
	b.Run("hookline/FromRecord", func(b *testing.B) {
		bench(b, func(v []byte) bool { m, err := envelope.FromRecord(nil, v); return err == nil && m.ObjectID != "" })
	})
	b.Run("stdlib/Valid", func(b *testing.B) { bench(b, stdjson.Valid) })
	b.Run("goccy/Valid", func(b *testing.B) { bench(b, goccy.Valid) })
	b.Run("sonic/Valid", func(b *testing.B) { bench(b, sonic.Valid) })
	b.Run("gjson/ValidBytes", func(b *testing.B) { bench(b, gjson.ValidBytes) })
	b.Run("fastjson/ValidateBytes", func(b *testing.B) { bench(b, func(v []byte) bool { return fastjson.ValidateBytes(v) == nil }) })
	b.Run("utf8/Valid", func(b *testing.B) { bench(b, utf8.Valid) })
	var p fastjson.Parser
	b.Run("fastjson/Parse+fields", func(b *testing.B) {
		bench(b, func(v []byte) bool {
			doc, err := p.ParseBytes(v)
			if err != nil {
				return false
			}
			var m meta
			m.typ = string(doc.GetStringBytes("type"))
			m.id = string(doc.GetStringBytes("data", envelope.ObjectName(m.typ), "id"))
			return m.id != ""
		})
	})
	b.Run("fastjson/all-rules", func(b *testing.B) {
		bench(b, func(v []byte) bool {
			if fastjson.ValidateBytes(v) != nil || !utf8.Valid(v) {
				return false
			}
			doc, err := p.ParseBytes(v)
			if err != nil {
				return false
			}
			obj, err := doc.Object()
			if err != nil {
				return false
			}
			seen, ok := 0, true
			var m meta
			obj.Visit(func(k []byte, x *fastjson.Value) {
				if !keysOK(string(k), &seen) {
					ok = false
				}
				s, _ := x.StringBytes()
				switch string(k) {
				case "type":
					m.typ = string(s)
				case "tenantId":
					m.tenant = string(s)
				case "eventId":
					m.event = string(s)
				case "origin":
					m.origin = string(s)
				case "application":
					m.app = string(s)
				}
			})
			m.id = string(doc.GetStringBytes("data", envelope.ObjectName(m.typ), "id"))
			return ok && envelope.IsTypeName(m.typ) && m.tenant != "" && m.id != ""
		})
	})
	b.Run("gjson/all-rules", func(b *testing.B) {
		bench(b, func(v []byte) bool {
			if !gjson.ValidBytes(v) || !utf8.Valid(v) {
				return false
			}
			seen, ok := 0, true
			var m meta
			gjson.ParseBytes(v).ForEach(func(k, x gjson.Result) bool {
				if !keysOK(k.Str, &seen) {
					ok = false
				}
				switch k.Str {
				case "type":
					m.typ = x.Str
				case "tenantId":
					m.tenant = x.Str
				case "eventId":
					m.event = x.Str
				}
				return true
			})
			m.id = gjson.GetBytes(v, "data."+envelope.ObjectName(m.typ)+".id").Str
			return ok && envelope.IsTypeName(m.typ) && m.tenant != "" && m.id != ""
		})
	})
}
