package deliverylog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Indexer follows the attempt-log topic into Redis. Each fetched batch is
// written in one pipelined round trip, and its offsets are committed only
// once every write succeeded; while Redis is away the batch is retried
// with back-off and nothing is committed past it.
type Indexer struct {
	cfg Config
	log *zap.Logger
	cl  *kgo.Client

	// workCtx bounds the batch in hand: Run's context ending cancels it
	// (a crash-like stop), and so does Shutdown's deadline.
	workCtx    context.Context
	workCancel context.CancelFunc

	mu       sync.Mutex
	cancel   context.CancelFunc // stops polling
	stopping bool
	done     chan struct{}
	stats    Stats

	// afterWrite, when set, runs between a batch's Redis writes and its
	// commit; tests stop the indexer there.
	afterWrite func()
}

// Stats counts what the indexer did.
type Stats struct {
	Records  int64 // records read
	Applied  int64 // records that changed Redis (the rest had been applied before)
	Skipped  int64 // records that are not indexable log entries
	Disabled int64 // endpoints auto-disabled
}

// NewIndexer validates cfg and creates the group member; Run starts it.
func NewIndexer(cfg Config) (*Indexer, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	i := &Indexer{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	i.workCtx, i.workCancel = context.WithCancel(context.Background())
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// No partition moves between a poll and its commit, so a batch is
		// always committed by the member that wrote it.
		kgo.BlockRebalanceOnPoll(),
	}, cfg.Membership.Opts()...)
	cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("deliverylog: kafka client: %w", err)
	}
	i.cl = cl
	return i, nil
}

// Stats returns a snapshot of the counters.
func (i *Indexer) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

// Run indexes until ctx ends or Shutdown is called. When ctx ends, the
// batch in hand is abandoned uncommitted (the next owner re-reads it, which
// changes nothing); Shutdown drains instead. Run returns nil on either stop.
func (i *Indexer) Run(ctx context.Context) error {
	defer close(i.done)
	defer i.cl.Close()
	// A batch abandoned mid-way still holds the rebalance; leaving the
	// group waits for it.
	defer i.cl.AllowRebalance()
	stop := context.AfterFunc(ctx, i.workCancel)
	defer stop()
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	i.mu.Lock()
	i.cancel = cancel
	if i.stopping {
		cancel()
	}
	i.mu.Unlock()
	for pollCtx.Err() == nil {
		fs := i.cl.PollRecords(pollCtx, i.cfg.MaxBatch)
		if fs.IsClientClosed() {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				i.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		recs := fs.Records()
		if len(recs) > 0 {
			if err := i.handle(i.workCtx, recs); err != nil {
				// Only a stop ends handle early: leave the batch uncommitted.
				break
			}
		}
		i.cl.AllowRebalance()
	}
	if ctx.Err() != nil || i.workCtx.Err() != nil {
		return nil
	}
	lctx, lcancel := context.WithTimeout(i.workCtx, 10*time.Second)
	defer lcancel()
	if err := i.cl.LeaveGroupContext(lctx); err != nil {
		i.log.Warn("leave group", zap.Error(err))
	}
	return nil
}

// Shutdown stops fetching, lets the batch in hand be written and committed
// (bounded by ctx), leaves the group and waits for Run to return. It may be
// called before Run.
func (i *Indexer) Shutdown(ctx context.Context) error {
	i.mu.Lock()
	i.stopping = true
	if i.cancel != nil {
		i.cancel()
	}
	i.mu.Unlock()
	stop := context.AfterFunc(ctx, i.workCancel)
	defer stop()
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
		<-i.done
		return ctx.Err()
	}
}

// handle writes recs to Redis, makes the auto-disables they call for, and
// commits them. It returns an error only when ctx ended first.
func (i *Indexer) handle(ctx context.Context, recs []*kgo.Record) error {
	if err := i.write(ctx, recs); err != nil {
		return err
	}
	if i.afterWrite != nil {
		i.afterWrite()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		if offsets[r.Topic] == nil {
			offsets[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		if o, ok := offsets[r.Topic][r.Partition]; !ok || r.Offset+1 > o.Offset {
			offsets[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
	}
	if err := kafka.Commit(ctx, i.cl, offsets); err != nil {
		// Not fatal: the next commit covers these, and a re-read is harmless.
		i.log.Warn("commit", zap.Error(err))
	}
	return nil
}
