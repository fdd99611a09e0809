package dev

import (
	"bufio"
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// devOnly are the import paths production code must not reach: the test
// doubles behind `hookline dev` and the packages that wrap them. A path
// matches itself and the packages under it.
var devOnly = []string{
	"github.com/twmb/franz-go/pkg/kfake",
	"github.com/alicebob/miniredis",
	"github.com/hookline/hookline/internal/dev",
	"github.com/hookline/hookline/internal/testbackend",
}

// mayUseDev are the module's packages allowed to import devOnly ones, by
// path relative to the module: the CLI, whose `dev` command runs the
// embedded backends, and the dev-only packages themselves. Test files of
// any package may import them too; only non-test imports are checked.
var mayUseDev = []string{"cmd/hookline", "internal/dev", "internal/testbackend"}

// mustBeChecked are production packages the walk has to find, so that a
// walk that silently finds nothing (a moved module root, say) fails.
var mustBeChecked = []string{"dispatcher", "retrier", "producer", "internal/api", "internal/kafka", "internal/idempotency"}

// TestProductionPackagesDoNotImportDev walks every package of the module
// and fails if one outside mayUseDev depends, directly or through other
// packages of the module, on a devOnly package. Imports are read with
// go/build for each GOOS hookline ships for, so a file built only on one
// platform is checked too. Third-party packages are not walked: the rule
// is about what this module's code reaches for.
func TestProductionPackagesDoNotImportDev(t *testing.T) {
	root, modPath := moduleRoot(t)
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			graph := moduleImports(t, root, modPath, goos)
			for _, rel := range mustBeChecked {
				if _, ok := graph[modPath+"/"+rel]; !ok {
					t.Fatalf("package %s not found under %s", rel, root)
				}
			}
			allowed := map[string]bool{}
			for _, rel := range mayUseDev {
				allowed[modPath+"/"+rel] = true
			}
			bad := devChains(graph, allowed)
			for _, chain := range bad {
				t.Errorf("production package depends on a dev-only one: %s", trim(chain, modPath))
			}
			if len(bad) == 0 {
				t.Logf("%d packages walked, %d allowed to use dev-only ones (%s): none of the others reaches %s",
					len(graph), len(allowed), strings.Join(mayUseDev, ", "), strings.Join(devOnly, ", "))
			}
		})
	}
}

// TestDevChainsFindsIndirectImports checks the walk itself on a made-up
// module: a dependency two packages away is reported with its chain, an
// allowed importer is not, nor is a package that only reaches it through
// an allowed one.
func TestDevChainsFindsIndirectImports(t *testing.T) {
	m := "github.com/hookline/hookline"
	graph := map[string][]string{
		m + "/dispatcher":      {"context", m + "/internal/kafka"},
		m + "/internal/kafka":  {m + "/internal/topics", "github.com/twmb/franz-go/pkg/kfake"},
		m + "/internal/topics": {"strings"},
		m + "/cmd/hookline":    {m + "/internal/dev"},
		m + "/internal/dev":    {"github.com/alicebob/miniredis/v2"},
		m + "/producer":        {"github.com/twmb/franz-go/pkg/kgo"},
	}
	got := devChains(graph, map[string]bool{m + "/cmd/hookline": true, m + "/internal/dev": true})
	want := [][]string{
		{m + "/dispatcher", m + "/internal/kafka", "github.com/twmb/franz-go/pkg/kfake"},
		{m + "/internal/kafka", "github.com/twmb/franz-go/pkg/kfake"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("chains %q, want %q", got, want)
	}
}

// devChains returns, for each package of graph not in allowed, the chain
// of imports by which it reaches a devOnly package (the first found),
// sorted by package. graph maps each of the module's packages to its
// non-test imports; paths outside it are leaves.
func devChains(graph map[string][]string, allowed map[string]bool) [][]string {
	// reach[p] is p's chain to a devOnly package, nil when it has none.
	reach := map[string][]string{}
	visiting := map[string]bool{}
	var walk func(p string) []string
	walk = func(p string) []string {
		if isDevOnly(p) {
			return []string{p}
		}
		if c, ok := reach[p]; ok {
			return c
		}
		if visiting[p] { // import cycles do not build; guard anyway
			return nil
		}
		visiting[p] = true
		var chain []string
		for _, imp := range graph[p] {
			if c := walk(imp); c != nil {
				chain = append([]string{p}, c...)
				break
			}
		}
		reach[p] = chain
		return chain
	}
	var pkgs []string
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	var out [][]string
	for _, p := range pkgs {
		if allowed[p] || isDevOnly(p) {
			continue
		}
		if c := walk(p); c != nil {
			out = append(out, c)
		}
	}
	return out
}

func isDevOnly(p string) bool {
	for _, d := range devOnly {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// moduleImports reads the non-test imports of every package under root as
// built for goos.
func moduleImports(t *testing.T, root, modPath, goos string) map[string][]string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS = goos
	graph := map[string][]string{}
	err := filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		// The go tool ignores these, and so does the rule.
		if n := d.Name(); dir != root && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
			return filepath.SkipDir
		}
		if dir != root {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		pkg, err := ctx.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pkg.GoFiles)+len(pkg.CgoFiles) == 0 {
			return nil // test files only
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		graph[path.Join(modPath, filepath.ToSlash(rel))] = pkg.Imports
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s for %s: %v", root, goos, err)
	}
	return graph
}

// moduleRoot finds the directory of go.mod above this package and the
// module path it declares.
func moduleRoot(t *testing.T) (dir, modPath string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s/go.mod: no module line", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// trim shortens the module's own paths in chain for reading.
func trim(chain []string, modPath string) string {
	out := make([]string, len(chain))
	for i, p := range chain {
		out[i] = strings.TrimPrefix(p, modPath+"/")
	}
	return strings.Join(out, " → ")
}
