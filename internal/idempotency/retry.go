package idempotency

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Until runs fn until it succeeds or ctx ends, backing off from 50 ms to 5 s
// between tries and logging each failure. It is how hookline treats Redis
// being away: wait and try again, never skip the check, never drop work.
func Until(ctx context.Context, log *zap.Logger, what string, fn func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := fn(ctx)
		if err == nil {
			if try > 1 && log != nil {
				log.Info("recovered", zap.String("op", what), zap.Int("tries", try))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if log != nil {
			log.Warn("state store unavailable; backing off", zap.String("op", what), zap.Int("try", try),
				zap.Duration("wait", wait), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
