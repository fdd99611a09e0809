package retrier_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/retrier"
	"github.com/redis/go-redis/v9"
)

// TestConfigBounds: every bound holds for a library caller, who gets an
// ErrConfig naming the setting, and a negative value is refused as the
// dispatcher refuses it rather than taken for the default.
func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		mod    func(*retrier.Config)
		field  string
		reason string
	}{
		{func(c *retrier.Config) { c.Concurrency = -1 }, "Concurrency", "want 1-1024, got -1"},
		{func(c *retrier.Config) { c.Concurrency = 1025 }, "Concurrency", "want 1-1024, got 1025"},
		{func(c *retrier.Config) { c.EndpointConcurrency = 17 }, "EndpointConcurrency", "want 0 (the default) to Concurrency (16), got 17"},
		{func(c *retrier.Config) { c.Concurrency, c.EndpointConcurrency = 2, 3 }, "EndpointConcurrency", "want 0 (the default) to Concurrency (2), got 3"},
		{func(c *retrier.Config) { c.EndpointConcurrency = -1 }, "EndpointConcurrency", "want 0 (the default) to Concurrency (16), got -1"},
		{func(c *retrier.Config) { c.QueueWait = -time.Second }, "QueueWait", "want 1ms to 10s, got -1s"},
		{func(c *retrier.Config) { c.QueueWait = time.Minute }, "QueueWait", "want 1ms to 10s, got 1m0s"},
		{func(c *retrier.Config) { c.CommitInterval = -1 }, "CommitInterval", "want 0 (the default, 1s) or more, got -1ns"},
		{func(c *retrier.Config) { c.Sender.Prefix = "Hookline" }, "Sender.Prefix", `want a header prefix like X-Acme, got "Hookline"`},
		{func(c *retrier.Config) { c.Redis = nil }, "Redis", "required"},
	} {
		set, _ := endpoints.NewSet()
		cfg := retrier.Config{Brokers: []string{"127.0.0.1:1"}, Endpoints: set, Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})}
		tc.mod(&cfg)
		_, err := retrier.New(cfg)
		var fe *config.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, retrier.ErrConfig) || fe.Field != tc.field || fe.Reason != tc.reason {
			t.Errorf("%s: %v, want %s: %s", tc.field, err, tc.field, tc.reason)
		}
	}
	ok := retrier.Config{Concurrency: 1024, EndpointConcurrency: 1024, QueueWait: 10 * time.Second}
	if err := ok.Validate(); err != nil {
		t.Errorf("the bounds themselves: %v", err)
	}
}
