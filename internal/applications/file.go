package applications

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxFileBytes bounds an application file: one registry record.
const maxFileBytes = 1 << 20

// Decode reads one application from JSON, refusing unknown fields (a
// misspelt dialect field would otherwise be dropped without a word) and
// trailing data. It does not validate; call Validate.
func Decode(r io.Reader) (*Application, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalid, maxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var a Application
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the application object", ErrInvalid)
	}
	return &a, nil
}

// ReadFiles reads and validates application files: each path is a JSON
// file or a directory whose *.json files are read in name order. Errors
// name the file.
func ReadFiles(paths ...string) ([]*Application, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, errors.New("no application files (*.json) found")
	}
	out := make([]*Application, 0, len(files))
	seen := map[string]string{}
	for _, f := range files {
		a, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if prev, ok := seen[a.ID]; ok {
			return nil, fmt.Errorf("%s: application %q is also in %s", f, a.ID, prev)
		}
		seen[a.ID] = f
		out = append(out, a)
	}
	return out, nil
}

func readFile(path string) (*Application, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Decode(f)
	if err != nil {
		return nil, err
	}
	if _, err := a.Validate(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.Name) == "" {
		return nil, fmt.Errorf("%w: name is required", ErrInvalid)
	}
	return a, nil
}

// schemaSuffix names a type's schema file in a schema directory.
const schemaSuffix = ".schema.json"

// TypesFromDir reads a directory of <type>.schema.json files (the layout
// of --schema-dir) as event types: each schema's own "description" is
// the type's, and its "x-hookline-version" (default 1) the version.
func TypesFromDir(dir string) ([]EventType, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*"+schemaSuffix))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no <type>%s files", dir, schemaSuffix)
	}
	sort.Strings(files)
	out := make([]EventType, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var meta struct {
			Description string `json:"description"`
			Version     int    `json:"x-hookline-version"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w: not a JSON object: %v", f, ErrInvalid, err)
		}
		out = append(out, EventType{Name: strings.TrimSuffix(filepath.Base(f), schemaSuffix), Description: meta.Description,
			Version: max(meta.Version, 1), Schema: raw})
	}
	return out, nil
}
