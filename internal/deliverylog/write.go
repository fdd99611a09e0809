package deliverylog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// write applies recs to Redis in one pipelined round trip, retrying the
// whole batch with back-off until it succeeds or ctx ends; entries applied
// by a failed try are skipped by their watermark on the next one. Then it
// makes the auto-disables the batch calls for.
func (i *Indexer) write(ctx context.Context, recs []*kgo.Record) error {
	entries := make([]entry, 0, len(recs))
	skipped := int64(0)
	for _, r := range recs {
		x, err := i.parse(r)
		if err != nil {
			skipped++
			i.log.Warn("unreadable attempt-log record", zap.String("topic", r.Topic),
				zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			continue
		}
		entries = append(entries, x)
	}
	var results []applied
	err := idempotency.Until(ctx, i.log, "index attempts", func(ctx context.Context) error {
		var err error
		results, err = i.apply(ctx, entries)
		return err
	})
	if err != nil {
		return err
	}
	n := int64(0)
	for _, a := range results {
		if a.new {
			n++
		}
	}
	i.mu.Lock()
	i.stats.Records += int64(len(recs))
	i.stats.Applied += n
	i.stats.Skipped += skipped
	i.mu.Unlock()
	return i.autoDisable(ctx, entries, results)
}

// apply runs the index script for every entry in one pipeline.
func (i *Indexer) apply(ctx context.Context, entries []entry) ([]applied, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	run := func() ([]redis.Cmder, error) {
		pipe := i.cfg.Redis.Pipeline()
		for _, x := range entries {
			indexScript.EvalSha(ctx, pipe, x.keys, x.args...)
		}
		return pipe.Exec(ctx)
	}
	cmds, err := run()
	if err != nil && isNoScript(err) {
		// First use on this server, or its script cache was flushed.
		if err := indexScript.Load(ctx, i.cfg.Redis).Err(); err != nil {
			return nil, fmt.Errorf("load index script: %w", err)
		}
		cmds, err = run()
	}
	if err != nil {
		return nil, fmt.Errorf("index %d attempts: %w", len(entries), err)
	}
	out := make([]applied, len(cmds))
	for k, c := range cmds {
		a, err := parseApplied(c.(*redis.Cmd).Val())
		if err != nil {
			return nil, err
		}
		out[k] = a
	}
	return out, nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// autoDisable disables each endpoint whose failing stretch, from its first
// failure to its newest, is longer than AutoDisableAfter and has not been
// disabled for yet. The mark is written after the Disabler succeeded, and
// before the batch is committed: a crash in between disables once more on
// the re-read, never not at all. A failed Disable is logged and tried again
// on the endpoint's next failing record.
func (i *Indexer) autoDisable(ctx context.Context, entries []entry, results []applied) error {
	if i.cfg.Disabler == nil || i.cfg.AutoDisableAfter < 0 {
		return nil
	}
	seen := map[string]bool{}
	for k, a := range results {
		e := &entries[k].e
		key := e.TenantID + "\x00" + e.EndpointID
		if seen[key] || a.failingSince.IsZero() || a.disabledFor == a.rawFailingSince ||
			a.lastFail.Sub(a.failingSince) <= i.cfg.AutoDisableAfter {
			continue
		}
		seen[key] = true
		reason := "auto-disabled: failing since " + a.failingSince.Format(time.RFC3339)
		err := i.cfg.Disabler.Disable(ctx, e.EndpointID, reason)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, endpoints.ErrNotFound) {
			i.log.Warn("auto-disable endpoint", zap.String("endpoint", e.EndpointID), zap.Error(err))
			continue
		}
		i.log.Warn("endpoint auto-disabled", zap.String("tenant", e.TenantID), zap.String("endpoint", e.EndpointID),
			zap.Time("failingSince", a.failingSince), zap.Error(err))
		health := tenantKeys(i.cfg.Prefix, e.TenantID).health(e.EndpointID)
		err = idempotency.Until(ctx, i.log, "mark auto-disable", func(ctx context.Context) error {
			return i.cfg.Redis.HSet(ctx, health, "off", a.rawFailingSince).Err()
		})
		if err != nil {
			return err
		}
		i.mu.Lock()
		i.stats.Disabled++
		i.mu.Unlock()
	}
	return nil
}
