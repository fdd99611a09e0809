package retrier

import (
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// partition is one assigned tier or lane partition. Within a tier, due
// times rise with offset (a fixed delay added at write time), so the
// partition waits for its head; records that are due are attempted
// concurrently (up to Config.Concurrency), and the commit point is the
// lowest record not yet settled. The Retry-now lane is a tier of no
// delay: its records are due when written, so none waits for another's
// due time.
type partition struct {
	r     *Retrier
	topic string
	part  int32
	tier  int
	lane  bool

	// Guarded by r.mu.
	queue    []*entry // fetched records in offset order, settled prefix removed
	started  int      // queue[:started] have been started
	inflight int
	paused   bool  // fetching is paused while the queue holds records
	next     int64 // offset after the settled prefix; -1 before any

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
	return &partition{r: r, topic: topic, part: part, tier: tier, lane: topic == r.cfg.Retry.Lane(), next: -1,
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

// CommitPoint is the offset after the settled prefix, for the member.
func (p *partition) CommitPoint() int64 {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return p.next
}

// Release stops the worker: the partition is another member's now. After
// a crash-like stop the attempts in flight end with the work context.
func (p *partition) Release() { p.stop() }

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
		now := p.r.cfg.Now()
		at, move := p.holdUntil(cand.rec, d, now)
		if wait := at.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				// Decide again at the time waited for: the hold may have
				// ended late enough that the record is due by now.
				continue
			case <-p.wake: // a settle or a push: re-evaluate
				t.Stop()
				continue
			case <-p.quit:
				t.Stop()
				return
			}
		}
		// Only an attempt that will POST is paced; one that ends without
		// a request (endpoint deleted or disabled) never waits.
		verdict, paced := paceGo, false
		if ep := p.r.cfg.Endpoints.Get(d.EndpointID); !move && ep != nil && !ep.Disabled {
			p.r.mu.Lock()
			verdict = p.r.admit(d.EndpointID, now, ep.Limits().Timeout)
			p.r.mu.Unlock()
			paced = verdict == paceGo
		}
		switch verdict {
		case paceWait:
			// Its endpoint frees a slot soon, in this partition or another.
			t := time.NewTimer(paceRecheck)
			select {
			case <-t.C:
			case <-p.wake:
				t.Stop()
			case <-p.quit:
				t.Stop()
				return
			}
			continue
		case paceDefer:
			d.Due, move = now.Add(p.r.cfg.Retry.Delay(p.tier)), true
			p.r.count(func(s *Stats) { s.Deferred++ })
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
			var ok bool
			if move {
				ok = p.r.requeue(d, delivery.ReplayEpoch(cand.rec), tier)
			} else {
				ok = p.r.attempt(d, delivery.ReplayEpoch(cand.rec), tier)
				if paced {
					p.r.mu.Lock()
					p.r.finished(d.EndpointID, now, p.r.cfg.Now())
					p.r.mu.Unlock()
				}
			}
			p.r.mu.Lock()
			p.inflight--
			cand.done = ok // not ok: stopping, left unsettled for the next owner
			p.r.mu.Unlock()
			p.signal()
		}()
	}
}

// holdUntil is how long the head rec (decoded as d) may hold up the
// records behind it, and whether it is then to be re-enqueued rather than
// attempted. The records behind it may belong to other endpoints, and
// within a tier they fall due about when the head does naturally (its
// timestamp plus the tier's delay). A head due within requeueSlack of that
// is waited for; one due later, as after a long Retry-After, is held only
// until its natural due and then written again to the tier its remaining
// wait places it in. Waiting until the natural due, rather than moving the
// record at once, is what ends the hops: each copy's natural due is a full
// tier delay later, so a delivery hops about wait/delay times at most and
// never spins in a tier whose delay its wait still exceeds.
func (p *partition) holdUntil(rec *kgo.Record, d *delivery.Delivery, now time.Time) (time.Time, bool) {
	delay := p.delay()
	natural := rec.Timestamp.Add(delay)
	if d.Due.Sub(later(natural, now)) <= requeueSlack(delay) {
		return d.Due, false
	}
	return natural, true
}

// delay is how long after it was written a record of the partition falls
// due: its tier's delay, or none in the lane.
func (p *partition) delay() time.Duration {
	if p.lane {
		return 0
	}
	return p.r.cfg.Retry.Delay(p.tier)
}

// requeueSlack is how much later than its natural due a head may be
// before it is re-enqueued: at least a second, so that the few
// milliseconds between computing a due and timestamping its record, and
// clock differences between hosts, never cost a write; a tenth of the
// delay on long tiers, whose records wait that long anyway.
func requeueSlack(delay time.Duration) time.Duration {
	return max(time.Second, delay/10)
}

// paceRecheck is how often a due record waiting for its endpoint's slot
// looks again: a slot may come free in another partition, which does not
// wake this one.
const paceRecheck = 10 * time.Millisecond

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
