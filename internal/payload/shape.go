package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/kafka"
)

// RefSource declares, per event type, the JSON pointers into data (for
// example /task/projectId) a thin body keeps beside the object's id.
type RefSource interface {
	Refs(eventType string) []string
}

// Shaper makes one endpoint's bodies. It is safe for concurrent use.
type Shaper struct {
	shape string
	tmpl  *template.Template
	refs  RefSource
	// trees caches, per event type, the pointers a thin body keeps.
	trees sync.Map // string -> *node
}

// New compiles s. refs may be nil: thin bodies then keep the object's id
// alone.
func New(s *Spec, refs RefSource) (*Shaper, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sh := &Shaper{shape: ShapeFull, refs: refs}
	if s != nil && s.Shape != "" {
		sh.shape = s.Shape
	}
	if sh.shape == ShapeTemplate {
		sh.tmpl, _ = parse(s.Template) // parsed once by Validate already
	}
	return sh, nil
}

// Shape is the shape this Shaper makes.
func (sh *Shaper) Shape() string { return sh.shape }

// fields are the raw JSON tokens of the envelope fields thin and legacy
// bodies copy: strings keep their quotes and escapes, so they are written
// back as they came, without decoding.
type fields struct {
	typ, eventID, tenantID, createdUTC, data []byte
}

func fieldsOf(value []byte) fields {
	var f fields
	for m := range envelope.Members(value) {
		switch {
		case m.KeyIs("type"):
			f.typ = m.Value
		case m.KeyIs("eventId"):
			f.eventID = m.Value
		case m.KeyIs("tenantId"):
			f.tenantID = m.Value
		case m.KeyIs("createdUtc"):
			f.createdUTC = m.Value
		case m.KeyIs("data"):
			f.data = m.Value
		}
	}
	return f
}

// typeName is the event type from its raw token: type names have no
// escapes (envelope.IsTypeName), so the token is the name in quotes.
func (f *fields) typeName() string {
	if len(f.typ) < 2 {
		return ""
	}
	return string(f.typ[1 : len(f.typ)-1])
}

// Append appends the body of the event in value to dst. value must be a
// record value envelope.FromRecord accepted: thin and legacy bodies walk
// it without checking its syntax again. An error wraps ErrShape and says
// what failed; dst is then returned as it was.
func (sh *Shaper) Append(dst, value []byte) ([]byte, error) {
	switch sh.shape {
	case ShapeFull:
		return append(dst, value...), nil
	case ShapeTemplate:
		return sh.execute(dst, value)
	}
	f := fieldsOf(value)
	if len(f.data) == 0 || f.data[0] != '{' {
		return dst, fmt.Errorf("%w: the event's data is not an object", ErrShape)
	}
	if sh.shape == ShapeLegacy {
		return legacy(dst, &f), nil
	}
	return sh.thin(dst, &f), nil
}

func appendToken(dst, tok []byte) []byte {
	if len(tok) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, tok...)
}

// legacy writes the older receivers' body, {event, occurred_at, data}.
// data is the event's object; fields data
// carries beside it (a budget threshold's usedPercent, say) are added to
// it, unless the object has a field of that name, and data.before is left
// out as that format has no place for it.
func legacy(dst []byte, f *fields) []byte {
	object := envelope.ObjectName(f.typeName())
	dst = append(dst, `{"event":`...)
	dst = appendToken(dst, f.typ)
	dst = append(dst, `,"occurred_at":`...)
	dst = appendToken(dst, f.createdUTC)
	dst = append(dst, `,"data":`...)
	var obj []byte
	for m := range envelope.Members(f.data) {
		if m.KeyIs(object) {
			obj = m.Value
		}
	}
	if len(obj) == 0 || obj[0] != '{' {
		return append(append(dst, f.data...), '}') // no object: data as it is
	}
	const space = " \t\r\n"
	trimmed := bytes.TrimRight(obj, space)
	dst = append(dst, bytes.TrimRight(trimmed[:len(trimmed)-1], space)...) // without its closing brace
	empty := true
	for range envelope.Members(obj) {
		empty = false
		break
	}
	for m := range envelope.Members(f.data) {
		if m.KeyIs(object) || m.KeyIs(envelope.BeforeKey) || hasKey(obj, m) {
			continue
		}
		if !empty {
			dst = append(dst, ',')
		}
		empty = false
		dst = append(append(append(dst, '"'), m.Key...), `":`...)
		dst = append(dst, m.Value...)
	}
	return append(dst, "}}"...)
}

// hasKey reports whether obj has a member named as m is.
func hasKey(obj []byte, m envelope.Member) bool {
	for o := range envelope.Members(obj) {
		if bytes.Equal(o.Key, m.Key) {
			return true
		}
	}
	return false
}

// thin writes the envelope's identifying fields and data pruned to the
// object's id and the type's refs, nested as in the event.
func (sh *Shaper) thin(dst []byte, f *fields) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendToken(dst, f.typ)
	dst = append(dst, `,"eventId":`...)
	dst = appendToken(dst, f.eventID)
	dst = append(dst, `,"tenantId":`...)
	dst = appendToken(dst, f.tenantID)
	dst = append(dst, `,"createdUtc":`...)
	dst = appendToken(dst, f.createdUTC)
	dst = append(dst, `,"data":`...)
	dst = appendPruned(dst, f.data, sh.tree(f.typeName()))
	return append(dst, '}')
}

// tree is the pointer tree of typ's thin body, built once per type.
func (sh *Shaper) tree(typ string) *node {
	if t, ok := sh.trees.Load(typ); ok {
		return t.(*node)
	}
	ptrs := []string{"/" + escapeToken(envelope.ObjectName(typ)) + "/id"}
	if sh.refs != nil {
		ptrs = append(ptrs, sh.refs.Refs(typ)...)
	}
	t, _ := sh.trees.LoadOrStore(typ, treeOf(ptrs))
	return t.(*node)
}

// node is one step of the pointers a thin body keeps; a node without kids
// keeps its whole value.
type node struct {
	key  string
	kids []*node
}

var unescapeToken = strings.NewReplacer("~1", "/", "~0", "~")

func treeOf(ptrs []string) *node {
	root := &node{}
	for _, p := range ptrs {
		at := root
		for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			tok = unescapeToken.Replace(tok)
			i := slices.IndexFunc(at.kids, func(n *node) bool { return n.key == tok })
			if i < 0 {
				at.kids = append(at.kids, &node{key: tok})
				i = len(at.kids) - 1
			}
			at = at.kids[i]
		}
	}
	return root
}

func escapeToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// appendPruned writes obj's members named by n's kids, in n's order;
// members absent from the event, and pointers through values that are
// not objects, are left out. A repeated key counts as its last value, as
// decoders read it.
func appendPruned(dst, obj []byte, n *node) []byte {
	var buf [8][]byte
	vals := buf[:0]
	if len(n.kids) > len(buf) {
		vals = make([][]byte, 0, len(n.kids))
	}
	vals = vals[:len(n.kids)]
	for m := range envelope.Members(obj) {
		for i, k := range n.kids {
			if m.KeyIs(k.key) {
				vals[i] = m.Value
			}
		}
	}
	dst = append(dst, '{')
	first := true
	for i, k := range n.kids {
		v := vals[i]
		if v == nil || (len(k.kids) > 0 && v[0] != '{') {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = envelope.AppendString(dst, k.key)
		dst = append(dst, ':')
		if len(k.kids) == 0 {
			dst = append(dst, v...)
		} else {
			dst = appendPruned(dst, v, k)
		}
	}
	return append(dst, '}')
}

// maxOutput caps what a template may write for one event: a retry topic
// could not carry more.
const maxOutput = kafka.MaxDeliveryBytes

// execute runs the template on the decoded envelope and checks that it
// wrote one JSON value.
func (sh *Shaper) execute(dst, value []byte) ([]byte, error) {
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return dst, fmt.Errorf("%w: decoding the event: %w", ErrShape, err)
	}
	w := &capped{b: new(bytes.Buffer), left: maxOutput}
	if err := sh.tmpl.Execute(w, ev); err != nil {
		return dst, fmt.Errorf("%w (template): %w", ErrShape, err)
	}
	// Compact also proves the output is one JSON value, and keeps a
	// template's indentation out of every body.
	out := bytes.NewBuffer(dst)
	if err := json.Compact(out, w.b.Bytes()); err != nil {
		return dst, fmt.Errorf("%w (template): output is not one JSON value (%w): %q", ErrShape, err, excerpt(bytes.TrimSpace(w.b.Bytes())))
	}
	return out.Bytes(), nil
}

func excerpt(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// capped stops a template that writes more than a delivery may hold.
type capped struct {
	b    *bytes.Buffer
	left int
}

func (c *capped) Write(p []byte) (int, error) {
	if len(p) > c.left {
		return 0, fmt.Errorf("output over %d bytes", maxOutput)
	}
	c.left -= len(p)
	return c.b.Write(p)
}
