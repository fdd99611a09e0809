package catalog

import (
	"fmt"
	"strings"
)

// RefsKeyword lists, in a type's schema, the JSON pointers into data of the
// ids the event references (for example "/task/projectId"). A thin payload
// keeps these beside the object's id and drops everything else.
const RefsKeyword = "x-hookline-refs"

// refsOf reads a schema document's RefsKeyword.
func refsOf(doc map[string]any) ([]string, error) {
	raw, ok := doc[RefsKeyword]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an array of JSON pointers", RefsKeyword)
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		p, ok := v.(string)
		if !ok || !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.HasSuffix(p, "/") {
			return nil, fmt.Errorf("%s: %v is not a JSON pointer into data such as \"/task/projectId\"", RefsKeyword, v)
		}
		out = append(out, p)
	}
	return out, nil
}

// Refs returns the JSON pointers into data of the ids events of typ
// reference, as its schema declares them; nil for an unknown type or one
// that declares none. The slice must not be modified.
func (c *Catalog) Refs(typ string) []string { return c.refs[typ] }
