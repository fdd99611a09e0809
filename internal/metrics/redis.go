package metrics

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisHook counts failed Redis commands into hookline_redis_errors_total.
// Add it to every client of the process (client.AddHook). It passes every
// command and error through unchanged.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m.redisErrors} }

type redisHook struct{ errs prometheus.Counter }

// DialHook counts nothing: a failed dial fails the command that needed
// it, which is counted.
func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if !connSetup(cmd) {
			h.count(ctx, err)
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if !connSetup(c) && failed(ctx, c.Err()) {
				h.errs.Inc() // once per round trip
				break
			}
		}
		return err
	}
}

func (h redisHook) count(ctx context.Context, err error) {
	if failed(ctx, err) {
		h.errs.Inc()
	}
}

// failed leaves out what is no failure of Redis: a key not found, a
// script not yet loaded (the client loads it and runs it again), and a
// caller that stopped waiting.
func failed(ctx context.Context, err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT") && ctx.Err() == nil
}

// connSetup tells the commands the client sends on a new connection
// (HELLO, CLIENT SETINFO, ...): servers that lack one refuse it, the
// client goes on without it, and that is no failure.
func connSetup(c redis.Cmder) bool {
	n := c.Name()
	return n == "hello" || n == "client"
}
