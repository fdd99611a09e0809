package retrier

import (
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// partition is one assigned tier partition. Records are processed in
// offset order by one goroutine; within a tier, due times rise with offset
// (a fixed delay added at write time), so waiting for the head is waiting
// for the partition.
type partition struct {
	r     *Retrier
	topic string
	part  int32
	tier  int

	// Guarded by r.mu.
	queue     []*kgo.Record
	next      int64 // offset after the last settled record; -1 before any
	committed int64

	wake     chan struct{}
	quit     chan struct{}
	exited   chan struct{}
	stopOnce sync.Once
}

func newPartition(r *Retrier, topic string, part int32, tier int) *partition {
	return &partition{r: r, topic: topic, part: part, tier: tier, next: -1, committed: -1,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
}

// push queues a fetched record. Called with r.mu held.
func (p *partition) push(rec *kgo.Record) {
	p.queue = append(p.queue, rec)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// settledNext is the offset to commit. Called with r.mu held.
func (p *partition) settledNext() int64 { return p.next }

// stop ends the worker after the attempt in progress and waits for it.
func (p *partition) stop() {
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.exited
}

func (p *partition) run() {
	defer close(p.exited)
	for {
		p.r.mu.Lock()
		var head *kgo.Record
		if len(p.queue) > 0 {
			head = p.queue[0]
		}
		p.r.mu.Unlock()
		if head == nil {
			p.r.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.part}})
			select {
			case <-p.wake:
				continue
			case <-p.quit:
				return
			}
		}
		d, err := delivery.FromRecord(head)
		if err != nil {
			// Not ours to retry; say so and move on rather than block the tier.
			p.r.log.Error("skipping a record that is not a delivery", zap.String("topic", p.topic),
				zap.Int32("partition", p.part), zap.Int64("offset", head.Offset), zap.Error(err))
		} else {
			if wait := d.Due.Sub(p.r.cfg.Now()); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-p.quit:
					t.Stop()
					return
				}
			}
			if !p.r.attempt(d, p.tier) {
				return // stopping: left unsettled, read again by the next owner
			}
		}
		p.r.mu.Lock()
		p.queue = p.queue[1:]
		p.next = head.Offset + 1
		p.r.mu.Unlock()
	}
}
