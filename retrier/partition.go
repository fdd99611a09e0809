package retrier

import (
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// partition is one assigned tier partition. Within a tier, due times rise
// with offset (a fixed delay added at write time), so the partition waits
// for its head; records that are due are attempted concurrently (up to
// Config.Concurrency), and the commit point is the lowest record not yet
// settled.
type partition struct {
	r     *Retrier
	topic string
	part  int32
	tier  int

	// Guarded by r.mu.
	queue     []*entry // fetched records in offset order, settled prefix removed
	started   int      // queue[:started] have been started
	inflight  int
	paused    bool  // fetching is paused while the queue holds records
	next      int64 // offset after the settled prefix; -1 before any
	committed int64

	wake     chan struct{}
	quit     chan struct{}
	exited   chan struct{}
	stopOnce sync.Once
	attempts sync.WaitGroup
}

type entry struct {
	rec  *kgo.Record
	done bool
}

func newPartition(r *Retrier, topic string, part int32, tier int) *partition {
	return &partition{r: r, topic: topic, part: part, tier: tier, next: -1, committed: -1,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
}

// push queues a fetched record. Called with r.mu held.
func (p *partition) push(rec *kgo.Record) {
	p.queue = append(p.queue, &entry{rec: rec})
	p.signal()
}

func (p *partition) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// settledNext is the offset to commit. Called with r.mu held.
func (p *partition) settledNext() int64 { return p.next }

// stop ends the worker once its attempts in flight finish, and waits.
func (p *partition) stop() {
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.exited
}

func (p *partition) run() {
	defer close(p.exited)
	defer p.attempts.Wait()
	limit := p.r.cfg.Concurrency
	for {
		p.r.mu.Lock()
		for len(p.queue) > 0 && p.queue[0].done {
			p.next = p.queue[0].rec.Offset + 1
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.started--
		}
		if len(p.queue) == 0 {
			p.r.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.part}})
		}
		var cand *entry
		if p.started < len(p.queue) && p.inflight < limit {
			cand = p.queue[p.started]
		}
		p.r.mu.Unlock()

		if cand == nil {
			select {
			case <-p.wake:
				continue
			case <-p.quit:
				return
			}
		}
		d, err := delivery.FromRecord(cand.rec)
		if err != nil {
			// Not ours to retry; say so and move on rather than block the tier.
			p.r.log.Error("skipping a record that is not a delivery", zap.String("topic", p.topic),
				zap.Int32("partition", p.part), zap.Int64("offset", cand.rec.Offset), zap.Error(err))
			p.r.mu.Lock()
			cand.done = true
			p.started++
			p.r.mu.Unlock()
			continue
		}
		if wait := d.Due.Sub(p.r.cfg.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.wake: // a settle or a push: re-evaluate
				t.Stop()
				continue
			case <-p.quit:
				t.Stop()
				return
			}
		}
		p.r.mu.Lock()
		p.started++
		p.inflight++
		p.r.mu.Unlock()
		p.attempts.Add(1)
		go func() {
			defer p.attempts.Done()
			tier := p.tier
			if d.Tier >= 0 {
				tier = d.Tier // its position, when written to a shorter tier
			}
			ok := p.r.attempt(d, replayEpoch(cand.rec), tier)
			p.r.mu.Lock()
			p.inflight--
			cand.done = ok // not ok: stopping, left unsettled for the next owner
			p.r.mu.Unlock()
			p.signal()
		}()
	}
}
