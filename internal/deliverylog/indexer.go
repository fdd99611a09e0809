package deliverylog

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hookline/hookline/internal/member"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Indexer follows the attempt-log topic into Redis. It is a consumer-group
// member (internal/member, as the dispatcher and the retrier are): each
// poll's records are written in one pipelined round trip, and a
// partition's commit point moves past them only once every write
// succeeded; while Redis is away the batch is retried with back-off and
// nothing is committed past it.
type Indexer struct {
	cfg Config
	log *zap.Logger
	m   *member.Member[*cursor]

	// work bounds the batch in hand: the end of Run's context cancels it
	// (a crash-like stop), and so does Shutdown's deadline (it derives
	// from the member's Work).
	work       context.Context
	workCancel context.CancelFunc

	mu    sync.Mutex
	stats Stats

	// afterWrite, when set, runs between a batch's Redis writes and the
	// move of its commit point; tests stop the indexer there.
	afterWrite func()
}

// Stats counts what the indexer did.
type Stats struct {
	Records  int64 // records read
	Applied  int64 // records that changed Redis (the rest had been applied before)
	Skipped  int64 // records that are not indexable log entries
	Disabled int64 // endpoints auto-disabled
}

// cursor is the indexer's state of one partition: one past the last
// record written to Redis, the offset its member may commit.
type cursor struct{ next atomic.Int64 }

func (c *cursor) CommitPoint() int64 { return c.next.Load() }

// Release has nothing to stop: a batch is written within one poll, and
// no poll runs while partitions move.
func (c *cursor) Release() {}

// NewIndexer validates cfg and creates the group member; Run starts it.
func NewIndexer(cfg Config) (*Indexer, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	i := &Indexer{cfg: cfg, log: cfg.Logger}
	m, err := member.New(member.Config{
		Brokers: cfg.Brokers,
		Group:   cfg.Group,
		Consume: []string{cfg.Topic},
		// Membership first, so that the caller's options win.
		KafkaOpts: append(cfg.Membership.Opts(), cfg.ClientOpts...),
		Logger:    cfg.Logger,
	}, group{i})
	if err != nil {
		return nil, fmt.Errorf("deliverylog: %w", err)
	}
	i.m = m
	i.work, i.workCancel = context.WithCancel(m.Work())
	return i, nil
}

// Stats returns a snapshot of the counters.
func (i *Indexer) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

// Run indexes until ctx ends or Shutdown has drained it. When ctx ends,
// the batch in hand is abandoned uncommitted (the next owner re-reads it,
// which changes nothing); Shutdown drains instead. Run returns nil on
// either stop.
func (i *Indexer) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, i.workCancel)
	defer stop()
	if err := i.m.Run(ctx); err != nil {
		return fmt.Errorf("deliverylog: %w", err)
	}
	return nil
}

// Shutdown stops fetching, lets the batch in hand be written (bounded by
// ctx), commits, leaves the group and waits for Run to return. Made
// before Run, it is remembered.
func (i *Indexer) Shutdown(ctx context.Context) error { return i.m.Shutdown(ctx) }

// group is the indexer as its consumer-group member sees it.
type group struct{ i *Indexer }

func (g group) Assign(context.Context, string, int32) (*cursor, bool) {
	c := &cursor{}
	c.next.Store(-1)
	return c, true
}

// PollSize makes each poll one Redis round trip of at most MaxBatch.
func (g group) PollSize(context.Context) int { return g.i.cfg.MaxBatch }

// Handle writes the poll's records and then moves each partition's
// commit point past them. A stop that ends the writes leaves the commit
// points where they were.
func (g group) Handle(_ context.Context, fetches kgo.Fetches) {
	i := g.i
	var recs []*kgo.Record
	next := map[*cursor]int64{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		c, ok := i.m.Partition(fp.Topic, fp.Partition)
		if !ok || len(fp.Records) == 0 {
			return
		}
		recs = append(recs, fp.Records...)
		next[c] = fp.Records[len(fp.Records)-1].Offset + 1
	})
	if len(recs) == 0 {
		return
	}
	if err := i.write(i.work, recs); err != nil {
		return // only a stop ends write early
	}
	if i.afterWrite != nil {
		i.afterWrite()
	}
	if i.work.Err() != nil {
		return
	}
	for c, at := range next {
		c.next.Store(at)
	}
}

// Quiesce has nothing to wait for: Handle writes a poll's records before
// the next poll, and the member calls Quiesce between polls.
func (g group) Quiesce(context.Context, []*cursor) {}
