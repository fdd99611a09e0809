package member

import (
	"context"
	"slices"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// assigned makes the state of each new partition through the Handler.
func (m *Member[P]) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if !m.wait(ctx) {
		return
	}
	for topic, parts := range assigned {
		for _, part := range parts {
			p, ok := m.h.Assign(ctx, topic, part)
			if !ok {
				return // client closing
			}
			m.mu.Lock()
			m.parts[tp{topic, part}] = &entry[P]{p: p, committed: -1}
			m.mu.Unlock()
			m.log.Info("partition assigned", zap.String("topic", topic), zap.Int32("partition", part))
		}
	}
}

// revoked waits (up to RevokeTimeout) for the work in flight on the revoked
// partitions, commits what settled, and releases them. Work still in
// flight after the timeout completes, but its records may be handled again
// by the partition's next owner. After a crash-like stop nothing is
// committed.
func (m *Member[P]) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !m.wait(ctx) {
		return
	}
	if !m.Abandoned() {
		qctx, cancel := context.WithTimeout(ctx, m.cfg.RevokeTimeout)
		m.h.Quiesce(qctx, m.lookup(revoked))
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		m.commit(cctx, revoked)
		ccancel()
	}
	m.release(revoked)
}

// lost releases partitions without committing: another member owns them.
func (m *Member[P]) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	if !m.wait(ctx) {
		return
	}
	m.release(lost)
}

// wait holds a group callback until Run has started; false if ctx ends
// first (the client closes without Run).
func (m *Member[P]) wait(ctx context.Context) bool {
	select {
	case <-m.started:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *Member[P]) lookup(ps map[string][]int32) []P {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []P
	for topic, parts := range ps {
		for _, part := range parts {
			if e := m.parts[tp{topic, part}]; e != nil {
				out = append(out, e.p)
			}
		}
	}
	return out
}

// release forgets the partitions, then tells each: a poll that looked one
// up just before may still hand it records, which it is to skip.
func (m *Member[P]) release(ps map[string][]int32) {
	var gone []P
	m.mu.Lock()
	for topic, parts := range ps {
		for _, part := range parts {
			if e := m.parts[tp{topic, part}]; e != nil {
				gone = append(gone, e.p)
				delete(m.parts, tp{topic, part})
			}
		}
	}
	m.mu.Unlock()
	for _, p := range gone {
		p.Release()
	}
}

func (m *Member[P]) releaseAll() {
	m.mu.Lock()
	all := map[string][]int32{}
	for k := range m.parts {
		all[k.topic] = append(all[k.topic], k.part)
	}
	m.mu.Unlock()
	m.release(all)
}

type advance[P Partition] struct {
	k  tp
	e  *entry[P]
	at int64
}

// commit commits the CommitPoint of every partition (or of only those in
// only, when not nil) that advanced since the last commit.
func (m *Member[P]) commit(ctx context.Context, only map[string][]int32) {
	m.mu.Lock()
	var cands []advance[P]
	for k, e := range m.parts {
		if only == nil || slices.Contains(only[k.topic], k.part) {
			cands = append(cands, advance[P]{k: k, e: e})
		}
	}
	m.mu.Unlock()
	// The owner's lock is taken by CommitPoint; never with m.mu held.
	offsets := map[string]map[int32]kgo.EpochOffset{}
	ups := cands[:0]
	for _, c := range cands {
		c.at = c.e.p.CommitPoint()
		m.mu.Lock()
		committed := c.e.committed
		m.mu.Unlock()
		if c.at < 0 || c.at <= committed {
			continue
		}
		if offsets[c.k.topic] == nil {
			offsets[c.k.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[c.k.topic][c.k.part] = kgo.EpochOffset{Epoch: -1, Offset: c.at}
		ups = append(ups, c)
	}
	if len(ups) == 0 {
		return
	}
	if err := kafka.Commit(ctx, m.Client(), offsets); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("commit failed; will retry", zap.Error(err))
			m.KafkaError("commit")
		}
		return
	}
	m.mu.Lock()
	for _, u := range ups {
		u.e.committed = max(u.e.committed, u.at)
	}
	m.mu.Unlock()
	if c, ok := any(m.h).(Committer[P]); ok {
		for _, u := range ups {
			c.Committed(ctx, u.e.p, u.k.topic, u.k.part, u.at)
		}
	}
}
