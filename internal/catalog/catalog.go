// Package catalog holds the compiled event catalog: the envelope schema and
// one data schema per event type. Schemas are compiled once at load; Validate
// is safe for concurrent use and allocates only what the validator needs.
package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hookline/hookline/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// ErrUnknownType is returned for an event type that has no schema in the
// catalog.
var ErrUnknownType = errors.New("unknown event type")

// schemaSuffix names a type schema file: events/<type>.schema.json.
const schemaSuffix = ".schema.json"

// SchemaError reports the first field that violates a schema.
type SchemaError struct {
	Type    string // event type being validated
	Pointer string // JSON pointer of the offending field in the envelope, e.g. /data/task/id
	Reason  string // what the schema expected
}

func (e *SchemaError) Error() string {
	p := e.Pointer
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("event %q violates its schema at %s: %s", e.Type, p, e.Reason)
}

// Catalog maps event types to compiled data schemas.
type Catalog struct {
	envelope *jsonschema.Schema
	types    map[string]*jsonschema.Schema
	// docs keeps each type's schema document as loaded, so users can be
	// shown the exact rules their events are held to.
	docs map[string][]byte
	// refs is each type's x-hookline-refs: the ids a thin payload keeps.
	refs map[string][]string
}

// Load compiles the embedded schemas, then every <type>.schema.json found in
// extraDir (if not empty), which adds types or replaces embedded ones.
func Load(extraDir string) (*Catalog, error) {
	docs := make(map[string][]byte)
	add := func(fsys fs.FS, dir string) error {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), schemaSuffix) {
				continue
			}
			raw, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			docs[strings.TrimSuffix(e.Name(), schemaSuffix)] = raw
		}
		return nil
	}
	if err := add(schemas.FS, "events"); err != nil {
		return nil, fmt.Errorf("embedded schemas: %w", err)
	}
	if extraDir != "" {
		if err := add(os.DirFS(extraDir), "."); err != nil {
			return nil, fmt.Errorf("schema directory %s: %w", extraDir, err)
		}
	}
	return New(docs)
}

// TypeError names the event type whose schema does not compile, with the
// compiler's message.
type TypeError struct {
	Type string
	Err  error
}

func (e *TypeError) Error() string { return fmt.Sprintf("schema for %s: %v", e.Type, e.Err) }

func (e *TypeError) Unwrap() error { return e.Err }

// New compiles a catalog of the given data schemas (type name to JSON
// Schema document), with the envelope schema every event is held to. A
// document that does not parse or compile is a *TypeError.
func New(types map[string][]byte) (*Catalog, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	parsed := make(map[string]any, len(types))
	docs := make(map[string][]byte, len(types))
	refs := make(map[string][]string, len(types))
	for typ, raw := range types {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, &TypeError{Type: typ, Err: err}
		}
		// The resource URL is ours, not the document's $id.
		if obj, ok := doc.(map[string]any); ok {
			delete(obj, "$id")
			if refs[typ], err = refsOf(obj); err != nil {
				return nil, &TypeError{Type: typ, Err: err}
			}
		}
		parsed[typ], docs[typ] = doc, raw
	}
	for typ, doc := range parsed {
		if err := c.AddResource(typeURL(typ), doc); err != nil {
			return nil, &TypeError{Type: typ, Err: err}
		}
	}
	raw, err := schemas.FS.ReadFile("envelope.schema.json")
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("envelope schema: %w", err)
	}
	if err := c.AddResource("hookline:envelope", doc); err != nil {
		return nil, fmt.Errorf("envelope schema: %w", err)
	}
	cat := &Catalog{types: make(map[string]*jsonschema.Schema, len(parsed)), docs: docs, refs: refs}
	if cat.envelope, err = c.Compile("hookline:envelope"); err != nil {
		return nil, fmt.Errorf("envelope schema: %w", err)
	}
	for typ := range parsed {
		s, err := c.Compile(typeURL(typ))
		if err != nil {
			return nil, &TypeError{Type: typ, Err: err}
		}
		cat.types[typ] = s
	}
	return cat, nil
}

func typeURL(typ string) string { return "hookline:type:" + typ }

// Types lists the catalog's event types in order.
func (c *Catalog) Types() []string {
	out := make([]string, 0, len(c.types))
	for t := range c.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Schema returns the JSON Schema document of typ's data as loaded (an
// operator's file in place of the embedded one), or false for an unknown
// type. The slice must not be modified.
func (c *Catalog) Schema(typ string) ([]byte, bool) {
	doc, ok := c.docs[typ]
	return doc, ok
}

// Has reports whether typ is in the catalog.
func (c *Catalog) Has(typ string) bool { _, ok := c.types[typ]; return ok }

// Validate checks a decoded envelope: its own fields, then data against the
// schema of its type. Values are those of encoding/json (maps, slices,
// strings, bools, float64 or json.Number) or Go numbers. It returns
// ErrUnknownType (wrapped) or a *SchemaError.
func (c *Catalog) Validate(env map[string]any) error {
	typ, _ := env["type"].(string)
	if err := c.envelope.Validate(env); err != nil {
		return schemaError(typ, "", err)
	}
	s, ok := c.types[typ]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, typ)
	}
	if err := s.Validate(env["data"]); err != nil {
		return schemaError(typ, "/data", err)
	}
	return nil
}

// ValidateData checks only data against the schema of typ, for callers that
// validated the envelope fields themselves.
func (c *Catalog) ValidateData(typ string, data any) error {
	s, ok := c.types[typ]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, typ)
	}
	if err := s.Validate(data); err != nil {
		return schemaError(typ, "/data", err)
	}
	return nil
}

// schemaError reduces the validator's error tree to its deepest first leaf,
// the field a user has to fix.
func schemaError(typ, prefix string, err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &SchemaError{Type: typ, Pointer: prefix, Reason: err.Error()}
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := ve.InstanceLocation
	// A missing property is reported on its parent; point at the property.
	if r, ok := ve.ErrorKind.(*kind.Required); ok && len(r.Missing) > 0 {
		loc = append(loc[:len(loc):len(loc)], r.Missing[0])
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, tok := range loc {
		b.WriteByte('/')
		tok = strings.ReplaceAll(tok, "~", "~0")
		b.WriteString(strings.ReplaceAll(tok, "/", "~1"))
	}
	return &SchemaError{Type: typ, Pointer: b.String(), Reason: ve.ErrorKind.LocalizedString(printer)}
}
