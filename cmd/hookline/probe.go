package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runProbe GETs a health URL and exits non-zero unless it answers 2xx.
// Container images without a shell or curl (distroless) run it as their
// healthcheck.
func runProbe(ctx context.Context, args []string) error {
	fs := newFlagSet("probe", "--url http://127.0.0.1:9090/healthz")
	url := fs.String("url", "http://127.0.0.1:9090/healthz", "URL to GET; 2xx is healthy")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return badFlag("url", "%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe %s: %s: %s", *url, resp.Status, body)
	}
	return nil
}
