package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

// head is the part of an envelope every shape but full reads.
type head struct {
	Type       string          `json:"type"`
	EventID    string          `json:"eventId"`
	TenantID   string          `json:"tenantId"`
	CreatedUTC string          `json:"createdUtc"`
	Data       json.RawMessage `json:"data"`
}

// Append appends the body of the event in value (one envelope, as the
// dispatcher's scanner accepted it) to dst. An error wraps ErrShape and
// says what failed; dst is then returned as it was.
func (sh *Shaper) Append(dst, value []byte) ([]byte, error) {
	switch sh.shape {
	case ShapeFull:
		return append(dst, value...), nil
	case ShapeTemplate:
		return sh.execute(dst, value)
	}
	var h head
	if err := json.Unmarshal(value, &h); err != nil {
		return dst, fmt.Errorf("%w: decoding the event: %w", ErrShape, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(h.Data, &fields); err != nil {
		return dst, fmt.Errorf("%w: data of event %s is not an object: %w", ErrShape, h.EventID, err)
	}
	object := envelope.ObjectName(h.Type)
	if sh.shape == ShapeLegacy {
		return legacy(dst, &h, object, fields)
	}
	return sh.thin(dst, &h, object, fields)
}

// legacy writes seed 001's body. data is the event's object; fields data
// carries beside it (a budget threshold's usedPercent, say) are added to
// it, unless the object has a field of that name, and data.before is left
// out as that format has no place for it.
func legacy(dst []byte, h *head, object string, fields map[string]json.RawMessage) ([]byte, error) {
	dst = append(dst, `{"event":`...)
	dst = envelope.AppendString(dst, h.Type)
	dst = append(dst, `,"occurred_at":`...)
	dst = envelope.AppendString(dst, h.CreatedUTC)
	dst = append(dst, `,"data":`...)
	obj, ok := fields[object]
	var members map[string]json.RawMessage
	if !ok || json.Unmarshal(obj, &members) != nil {
		return append(append(dst, h.Data...), '}'), nil // no object: data as it is
	}
	var extra []string
	for k := range fields {
		if _, clash := members[k]; k != object && k != envelope.BeforeKey && !clash {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return append(append(dst, obj...), '}'), nil
	}
	slices.Sort(extra)
	trimmed := bytes.TrimRight(obj, " \t\r\n")
	dst = append(dst, trimmed[:len(trimmed)-1]...) // without its closing brace
	for i, k := range extra {
		if i > 0 || len(members) > 0 {
			dst = append(dst, ',')
		}
		dst = envelope.AppendString(dst, k)
		dst = append(dst, ':')
		dst = append(dst, fields[k]...)
	}
	return append(dst, "}}"...), nil
}

// thin writes the envelope's identifying fields and data pruned to the
// object's id and the type's refs, nested as in the event.
func (sh *Shaper) thin(dst []byte, h *head, object string, fields map[string]json.RawMessage) ([]byte, error) {
	ptrs := []string{"/" + escapeToken(object) + "/id"}
	if sh.refs != nil {
		ptrs = append(ptrs, sh.refs.Refs(h.Type)...)
	}
	dst = append(dst, `{"type":`...)
	dst = envelope.AppendString(dst, h.Type)
	dst = append(dst, `,"eventId":`...)
	dst = envelope.AppendString(dst, h.EventID)
	dst = append(dst, `,"tenantId":`...)
	dst = envelope.AppendString(dst, h.TenantID)
	dst = append(dst, `,"createdUtc":`...)
	dst = envelope.AppendString(dst, h.CreatedUTC)
	dst = append(dst, `,"data":`...)
	dst = appendPruned(dst, fields, treeOf(ptrs))
	return append(dst, '}'), nil
}

// node is one step of the pointers a thin body keeps; a node without kids
// keeps its whole value.
type node struct {
	key  string
	kids []*node
}

func treeOf(ptrs []string) *node {
	root := &node{}
	for _, p := range ptrs {
		at := root
		for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
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
// members absent from the event are left out.
func appendPruned(dst []byte, obj map[string]json.RawMessage, n *node) []byte {
	dst = append(dst, '{')
	first := true
	for _, k := range n.kids {
		raw, ok := obj[k.key]
		if !ok {
			continue
		}
		var inner map[string]json.RawMessage
		if len(k.kids) > 0 && json.Unmarshal(raw, &inner) != nil {
			continue // a pointer through a non-object: nothing to keep
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = envelope.AppendString(dst, k.key)
		dst = append(dst, ':')
		if len(k.kids) == 0 {
			dst = append(dst, raw...)
			continue
		}
		dst = appendPruned(dst, inner, k)
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
