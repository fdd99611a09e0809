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
