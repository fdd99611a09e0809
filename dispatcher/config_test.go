package dispatcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/redis/go-redis/v9"
)

// TestConfigBounds: every bound holds for a library caller, who gets an
// ErrConfig naming the setting, before anything is connected.
func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		mod    func(*dispatcher.Config)
		field  string
		reason string
	}{
		{func(c *dispatcher.Config) { c.MaxBufferedBytes = 1 }, "MaxBufferedBytes", "want at least 1 MiB, got 1"},
		{func(c *dispatcher.Config) { c.MaxBufferedBytes = -1 }, "MaxBufferedBytes", "want at least 1 MiB, got -1"},
		{func(c *dispatcher.Config) { c.FetchMaxPartitionBytes = 1 << 10 }, "FetchMaxPartitionBytes", "want 16 KiB to 64 MiB, got 1024"},
		{func(c *dispatcher.Config) { c.FetchMaxPartitionBytes = 65 << 20 }, "FetchMaxPartitionBytes", "want 16 KiB to 64 MiB, got 68157440"},
		{func(c *dispatcher.Config) { c.MaxQueuedPerEndpoint = -1 }, "MaxQueuedPerEndpoint", "want at least 1, got -1"},
		{func(c *dispatcher.Config) { c.Concurrency = 65 }, "Concurrency", "want 1-64, got 65"},
		{func(c *dispatcher.Config) { c.Concurrency = -1 }, "Concurrency", "want 1-64, got -1"},
		{func(c *dispatcher.Config) { c.QueueWait = time.Microsecond }, "QueueWait", "want 1ms to 10s, got 1µs"},
		{func(c *dispatcher.Config) { c.QueueWait = 11 * time.Second }, "QueueWait", "want 1ms to 10s, got 11s"},
		{func(c *dispatcher.Config) { c.MaxEventBytes = 100 }, "MaxEventBytes", "want 1 KiB to 8323070, got 100"},
		{func(c *dispatcher.Config) { c.MaxEventBytes = kafka.MaxDeliveryBytes }, "MaxEventBytes", "want 1 KiB to 8323070, got 8323072"},
		{func(c *dispatcher.Config) { c.MarkLinger = time.Second }, "MarkLinger", "want 0 to 100ms, got 1s"},
		{func(c *dispatcher.Config) { c.CommitInterval = -time.Second }, "CommitInterval", "want 0 (the default, 1s) or more, got -1s"},
		{func(c *dispatcher.Config) { c.RevokeTimeout = -time.Second }, "RevokeTimeout", "want 0 (the default, 30s) or more, got -1s"},
		{func(c *dispatcher.Config) { c.Sender.MaxRetryAfter = time.Millisecond }, "Sender.MaxRetryAfter", "want at least 1s, got 1ms"},
		{func(c *dispatcher.Config) { c.Brokers = nil }, "Brokers", "required"},
		{func(c *dispatcher.Config) { c.Redis = nil }, "Redis", "required"},
		{func(c *dispatcher.Config) { c.Endpoints = nil }, "Endpoints", "required"},
	} {
		set, _ := endpoints.NewSet()
		cfg := dispatcher.Config{Brokers: []string{"127.0.0.1:1"}, Endpoints: set, Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})}
		tc.mod(&cfg)
		_, err := dispatcher.New(cfg)
		var fe *config.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, dispatcher.ErrConfig) || fe.Field != tc.field || fe.Reason != tc.reason {
			t.Errorf("%s: %v, want %s: %s", tc.field, err, tc.field, tc.reason)
		}
	}
	ok := dispatcher.Config{MaxBufferedBytes: 1 << 20, FetchMaxPartitionBytes: 16 << 10, Concurrency: 64, QueueWait: time.Millisecond,
		MaxEventBytes: kafka.MaxDeliveryBytes - 2, MarkLinger: 100 * time.Millisecond, Sender: delivery.SenderConfig{Prefix: "X-Acme"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("the bounds themselves: %v", err)
	}
	if err := (&dispatcher.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config's settings: %v", err)
	}
}
