package api_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The same flows against the real `hookline dev`: the binary is built and
// run with an embedded Kafka, the API and the ops port on free ports, and
// the test reads the API URL and the tenant key it prints. They take the
// screenshots under docs/screenshots.
func TestBrowserAgainstHooklineDev(t *testing.T) {
	chromiumPath(t)
	s, key := startHooklineDev(t)
	browserFlow(t, s, key, true)
	applicationsFlow(t, s, key, true)
}

// startHooklineDev builds and starts `hookline dev`, and stops it with
// Ctrl-C (SIGINT) at cleanup, which must exit 0.
func startHooklineDev(t *testing.T) (*stack, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hookline")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookline/hookline/cmd/hookline").CombinedOutput(); err != nil {
		t.Fatalf("build hookline: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "dev", "--kafka-port", "0", "--api-addr", "127.0.0.1:0", "--data-dir", data,
		"--ops-addr", "127.0.0.1:0", "--partitions", "1", "--retry-schedule", "2s,4s", "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), "HOOKLINE_LOG_LEVEL=warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // progress lines nobody reads any more
			}
		}
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		defer func() {
			if t.Failed() {
				t.Logf("hookline dev's log:\n%s", stderr.String())
			}
		}()
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("hookline dev after Ctrl-C: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("hookline dev did not stop within 30 s of Ctrl-C")
		}
	})
	var url, key string
	timeout := time.After(90 * time.Second)
	for url == "" || key == "" {
		select {
		case l := <-lines:
			if rest, ok := strings.CutPrefix(l, "api: "); ok {
				url, _, _ = strings.Cut(rest, " ")
			}
			if strings.HasPrefix(l, "tenant key (") {
				_, key, _ = strings.Cut(l, "): ")
			}
		case err := <-exited:
			t.Fatalf("hookline dev exited before printing the API and a tenant key: %v", err)
		case <-timeout:
			t.Fatalf("hookline dev printed no API URL and tenant key within 90 s (url %q)", url)
		}
	}
	op, err := os.ReadFile(filepath.Join(data, "operator.key"))
	if err != nil {
		t.Fatalf("the operator key dev keeps: %v", err)
	}
	return &stack{url: url, operator: strings.TrimSpace(string(op))}, key
}

// syncBuffer is a bytes.Buffer a process may write while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
