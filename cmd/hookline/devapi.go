package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/lifecycle"
	"github.com/hookline/hookline/internal/registry"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// devSecret returns the secret kept in file under the data dir, making
// and saving a new one (n random bytes, base64, after prefix) the first
// time. dev keeps its master and operator keys this way, so a restart
// reads the registry it wrote and the key printed before still works.
func devSecret(dir, file, prefix string, n int) (string, error) {
	path := filepath.Join(dir, file)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	v := prefix + base64.RawURLEncoding.EncodeToString(b)
	if prefix == "" {
		v = base64.StdEncoding.EncodeToString(b)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

// devTenant makes sure the tenant exists and returns an API key of it,
// the one saved in the data dir when it still authenticates.
func devTenant(ctx context.Context, st *registry.Store, dir, id string) (string, error) {
	if _, ok := st.Tenant(id); !ok {
		if _, err := st.CreateTenant(ctx, id, id); err != nil && !errors.Is(err, registry.ErrExists) {
			return "", fmt.Errorf("create tenant %s: %w", id, err)
		}
	}
	path := filepath.Join(dir, "key-"+id)
	if b, err := os.ReadFile(path); err == nil {
		if k, ok := st.Authenticate(strings.TrimSpace(string(b))); ok && k.TenantID == id {
			return strings.TrimSpace(string(b)), nil
		}
	}
	token, _, err := st.CreateKey(ctx, id, "dev")
	if err != nil {
		return "", fmt.Errorf("create a key of %s: %w", id, err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

// apiClient calls the management API with a tenant key or the operator
// key: the way the demo registers its applications and creates its
// endpoints, like any other client.
type apiClient struct {
	base, key string
	http      *http.Client
}

func newAPIClient(base, key string) *apiClient {
	return &apiClient{base: strings.TrimSuffix(base, "/"), key: key, http: &http.Client{Timeout: 90 * time.Second}}
}

// apiError is an error answer of the API.
type apiError struct {
	Status int
	Msg    string `json:"error"`
	Field  string `json:"field"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("HTTP %d: %s (field %s)", e.Status, e.Msg, e.Field)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg)
}

// do sends body (nil: none) and decodes a 2xx answer into out (nil: none).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(b))
		}
		return e
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// devRegistry opens the registry on the embedded broker under dev's
// keyring.
func devRegistry(ctx context.Context, c devConfig, broker string, log *zap.Logger) (*registry.Store, error) {
	kr, err := devKeyring(c)
	if err != nil {
		return nil, err
	}
	return openRegistry(ctx, []string{broker}, c.shared.topicPrefix, kr, c.shared.endpoints, log)
}

// devKeyring is --master-key or, by default, a key kept in the data dir.
func devKeyring(c devConfig) (*registry.Keyring, error) {
	kr, err := c.shared.registry.keyring()
	if err != nil || kr != nil {
		return kr, err
	}
	spec, err := devSecret(c.dataDir, "master.key", "", 32)
	if err != nil {
		return nil, fmt.Errorf("dev master key: %w", err)
	}
	if kr, err = registry.ParseKeyring(spec); err != nil {
		return nil, fmt.Errorf("dev master key in %s: %w", c.dataDir, err)
	}
	return kr, nil
}

// devAPI is where dev's API listens and the keys dev made for it.
type devAPI struct {
	url string
	// keys holds a key of each demo tenant.
	keys map[string]string
	// operator is the operator key, kept in the data dir: the demo
	// registers its applications with it.
	operator string
}

// startDevAPI starts the API and the delivery-log indexer under sup. It
// makes sure the demo tenants exist and returns a key of each, and the
// operator key is kept in the data dir.
func startDevAPI(ctx context.Context, c devConfig, broker string, st *registry.Store, rdb redis.UniversalClient, log *zap.Logger, sup *lifecycle.Supervisor) (devAPI, error) {
	op, err := devSecret(c.dataDir, "operator.key", "hlop_", 32)
	if err != nil {
		return devAPI{}, fmt.Errorf("dev operator key: %w", err)
	}
	keys := map[string]string{}
	for _, t := range demo.Tenants {
		if keys[t], err = devTenant(ctx, st, c.dataDir, t); err != nil {
			return devAPI{}, err
		}
	}
	a := c.api
	a.operatorKey = op
	m, err := buildManager(&c.shared, &a, []string{broker}, st, rdb, log)
	if err != nil {
		return devAPI{}, err
	}
	if err := m.srv.Listen(); err != nil {
		return devAPI{}, err
	}
	m.start(sup)
	url := "http://" + m.srv.Addr()
	fmt.Printf("api: %s (web page and REST; operator key in %s)\n", url, filepath.Join(c.dataDir, "operator.key"))
	fmt.Printf("tenant key (%s): %s\n", demo.Tenants[0], keys[demo.Tenants[0]])
	return devAPI{url: url, keys: keys, operator: op}, nil
}

func countEndpoints(st *registry.Store) int {
	n := 0
	for _, t := range st.Tenants() {
		n += len(st.ForTenant(t.ID))
	}
	return n
}
