package api

import (
	"strings"
	"testing"
)

func TestDuplicateKey(t *testing.T) {
	for _, c := range []struct {
		name, doc       string
		dotted, pointer string // "" when the document has no duplicate
	}{
		{"none", `{"name":"a","url":"b","auth":{"type":"header"}}`, "", ""},
		{"top level", `{"name":"a","name":"b"}`, "name", "/name"},
		{"after other members", `{"a":1,"b":[1,{"x":2}],"c":null,"a":2}`, "a", "/a"},
		{"nested object", `{"name":"a","auth":{"type":"header","value":"x","value":"y"}}`, "auth.value", "/auth/value"},
		{"deeper", `{"data":{"task":{"id":"1","title":"t","id":"2"}}}`, "data.task.id", "/data/task/id"},
		{"in an array element", `{"items":[{"k":1},{"k":1,"k":2}]}`, "items[1].k", "/items/1/k"},
		{"arrays in arrays", `{"m":[[1,2],[{"a":0,"a":0}]]}`, "m[1][0].a", "/m/1/0/a"},
		{"same key in sibling objects", `{"a":{"id":1},"b":{"id":1},"c":[{"id":1},{"id":2}]}`, "", ""},
		{"same key at two depths", `{"id":1,"x":{"id":2,"y":{"id":3}}}`, "", ""},
		{"escaped spelling", `{"name":"a","n\u0061me":"b"}`, "name", "/name"},
		{"case variant is another key", `{"name":"a","Name":"b"}`, "", ""},
		{"empty key twice", `{"":1,"":2}`, "", "/"},
		{"pointer escapes", `{"a/b~c":1,"a/b~c":2}`, "a/b~c", "/a~1b~0c"},
		{"keys after a closed object", `{"o":{"k":1},"k":1,"o":2}`, "o", "/o"},
		{"empty containers", `{"a":{},"b":[],"c":[{}],"a":1}`, "a", "/a"},
		{"not an object", `[{"a":1},{"a":2}]`, "", ""},
		{"repeat inside a top-level array", `[{"a":1},{"a":2,"a":3}]`, "[1].a", "/1/a"},
		{"invalid before a duplicate", `{"a":1,,"a":2}`, "", ""},
		{"invalid after a duplicate", `{"a":1,"a"`, "a", "/a"},
		{"not JSON", `nope`, "", ""},
		{"empty", ``, "", ""},
		{"second document ignored", `{"a":1} {"a":1,"a":2}`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := duplicateKey([]byte(c.doc))
			if c.pointer == "" {
				if p != nil {
					t.Fatalf("%s: found a duplicate at %s, want none", c.doc, p.pointer())
				}
				return
			}
			if p == nil {
				t.Fatalf("%s: no duplicate found, want %s", c.doc, c.pointer)
			}
			if p.dotted() != c.dotted || p.pointer() != c.pointer {
				t.Fatalf("%s: duplicate at %q / %q, want %q / %q", c.doc, p.dotted(), p.pointer(), c.dotted, c.pointer)
			}
		})
	}
}

// TestDuplicateKeyDeepNesting: nesting beyond encoding/json's own limit
// is left to the decode, which refuses it; the walk neither recurses nor
// reports.
func TestDuplicateKeyDeepNesting(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxKeyDepth+5) + "1" + strings.Repeat("}", maxKeyDepth+5)
	if p := duplicateKey([]byte(deep)); p != nil {
		t.Fatalf("duplicate at %s in a document without one", p.dotted())
	}
	within := strings.Repeat(`[`, 500) + `{"a":1,"a":2}` + strings.Repeat(`]`, 500)
	if p := duplicateKey([]byte(within)); p == nil || len(p) != 501 || p.last() != "a" {
		t.Fatalf("duplicate 500 arrays deep: %v", p)
	}
}
