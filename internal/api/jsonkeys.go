package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// maxKeyDepth is how deep duplicateKey follows a document: encoding/json's
// own nesting limit, so anything deeper is refused by the decode that
// follows, which says why.
const maxKeyDepth = 10000

// pathStep is one step from a document's root: an object key, or an array
// index when index >= 0.
type pathStep struct {
	key   string
	index int
}

// jsonPath leads from a document's root to one of its values.
type jsonPath []pathStep

// dotted names the path as the management routes name fields: keys joined
// by dots, array indexes in brackets ("auth.value", "eventTypes[2]").
func (p jsonPath) dotted() string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString("." + s.key)
		default:
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// pointer names the path as a JSON pointer (RFC 6901), as ingest names an
// event's fields ("/data/task/id").
func (p jsonPath) pointer() string {
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	for _, s := range p {
		b.WriteByte('/')
		if s.index >= 0 {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(esc.Replace(s.key))
		}
	}
	return b.String()
}

// last is the key the path ends with.
func (p jsonPath) last() string { return p[len(p)-1].key }

// duplicateKey returns the path of the first key that appears twice in one
// object, at any depth of the JSON document raw, or nil when none does.
// encoding/json keeps the last of a repeated key and other decoders the
// first, so a body that repeats one means different things to different
// readers (a proxy that checked it, a log, the API); the API refuses it
// rather than pick. Keys compare as decoded, so "a" and "\u0061" are the
// same key, and exactly, so "name" and "Name" are not: the API matches
// field names exactly and answers a case variant as an unknown field.
// The walk reads tokens as they come and ends at the first fault of a
// document that is not valid JSON: nil, unless a duplicate came before
// it. Decoding says what is wrong with such a document.
func duplicateKey(raw []byte) jsonPath {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers are only skipped: no float parsing
	// One level per open container: an object's keys so far (nil for an
	// array) and where in it the walk is.
	type level struct {
		seen    map[string]struct{}
		step    pathStep
		wantKey bool // an object whose next token is a key or its end
	}
	var stack []level
	path := func() jsonPath {
		p := make(jsonPath, len(stack))
		for i, l := range stack {
			p[i] = l.step
		}
		return p
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *level
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch {
		case top != nil && top.wantKey && tok != json.Delim('}'):
			key, _ := tok.(string)
			top.step = pathStep{key: key, index: -1}
			if _, dup := top.seen[key]; dup {
				return path()
			}
			top.seen[key] = struct{}{}
			top.wantKey = false
			continue
		case tok == json.Delim('}') || tok == json.Delim(']'):
			stack = stack[:len(stack)-1]
		case tok == json.Delim('{') || tok == json.Delim('['):
			if top != nil && top.seen == nil {
				top.step.index++
			}
			if len(stack) >= maxKeyDepth {
				return nil
			}
			l := level{step: pathStep{index: -1}}
			if tok == json.Delim('{') {
				l.seen, l.wantKey = map[string]struct{}{}, true
			}
			stack = append(stack, l)
			continue
		default: // a string, number, true, false or null
			if top != nil && top.seen == nil {
				top.step.index++
			}
		}
		// A value ended: its object's next token is a key again, and the
		// walk is over once the document's own value has ended.
		if len(stack) == 0 {
			return nil
		}
		if t := &stack[len(stack)-1]; t.seen != nil {
			t.wantKey = true
		}
	}
}
