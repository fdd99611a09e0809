package main

import (
	"fmt"

	"github.com/hookline/hookline/internal/dev"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// devRedis connects as f says, or starts the in-process Redis of dev when
// its URL is empty, restored from and saved to file (see dev.StartRedis).
// It returns the client, a description for the banner and the closer.
func devRedis(f *redisFlags, file string, log *zap.Logger) (redis.UniversalClient, string, func(), error) {
	if f.cfg.URL != "" {
		c, err := f.config()
		if err != nil {
			return nil, "", nil, err
		}
		rdb, err := f.client()
		if err != nil {
			return nil, "", nil, err
		}
		return rdb, c.String(), func() { _ = rdb.Close() }, nil
	}
	r, err := dev.StartRedis(file, log)
	if err != nil {
		return nil, "", nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Protocol: 2})
	desc := fmt.Sprintf("redis://%s (in-process; %d keys restored from %s)", r.Addr(), r.Restored(), file)
	return rdb, desc, func() {
		_ = rdb.Close()
		r.Close() // saves a last time
	}, nil
}
