package testbackend

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildHookline compiles the CLI for tests that run it as a separate
// process (to kill it with SIGKILL). Call from a package one level below
// the module root.
func BuildHookline(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookline")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/hookline").CombinedOutput(); err != nil {
		t.Fatalf("build hookline: %v\n%s", err, out)
	}
	return bin
}
