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
	inflight int
	paused   bool  // fetching is paused while the queue holds records
	next     int64 // offset after the settled prefix; -1 before any

	wake     chan struct{}
	quit     chan struct{}
	exited   chan struct{}
	stopOnce sync.Once
	attempts sync.WaitGroup
}

// entry is a fetched record. Records start in offset order, except that
// one whose endpoint is at its bound waits while later ones start.
type entry struct {
	rec *kgo.Record
	// d is rec decoded, by the partition's worker only.
	d *delivery.Delivery
	// Guarded by r.mu.
	started, done bool
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
	for {
		p.r.mu.Lock()
		for len(p.queue) > 0 && p.queue[0].done {
			p.next = p.queue[0].rec.Offset + 1
			p.queue[0] = nil
			p.queue = p.queue[1:]
		}
		if len(p.queue) == 0 {
			p.r.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.part}})
		}
		var todo []*entry
		if p.inflight < p.r.cfg.Concurrency {
			for _, e := range p.queue {
				if !e.started {
					todo = append(todo, e)
					if len(todo) == lookAhead {
						break
					}
				}
			}
		}
		p.r.mu.Unlock()

		started, wait := p.startOne(todo)
		if started {
			continue
		}
		if !p.sleep(wait) {
			return
		}
	}
}

// sleep waits for a wake, or for wait when above 0, and reports false when
// the partition is to stop.
func (p *partition) sleep(wait time.Duration) bool {
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
		// Decide again at the time waited for: the hold may have ended
		// late enough that the record is due by now.
	case <-p.wake: // a settle or a push: re-evaluate
	case <-p.quit:
		return false
	}
	return true
}

// lookAhead bounds how many records past those started a partition looks
// at for one it may start: records of an endpoint at its bound wait while
// those of others behind them go.
const lookAhead = 256

// startOne starts the first of todo (records not yet started, in offset
// order) that may start now: due, and its endpoint below its bound or to
// be deferred. It reports whether it started one, else how long to wait
// before deciding again (0: until woken).
func (p *partition) startOne(todo []*entry) (bool, time.Duration) {
	var wait time.Duration
	soonest := func(d time.Duration) {
		if wait == 0 || d < wait {
			wait = d
		}
	}
	for _, e := range todo {
		if e.d == nil {
			d, err := delivery.FromRecord(e.rec)
			if err != nil {
				// Not ours to retry; say so and move on rather than block the tier.
				p.r.log.Error("skipping a record that is not a delivery", zap.String("topic", p.topic),
					zap.Int32("partition", p.part), zap.Int64("offset", e.rec.Offset), zap.Error(err))
				p.r.mu.Lock()
				e.started, e.done = true, true
				p.r.mu.Unlock()
				return true, 0
			}
			e.d = d
		}
		now := p.r.cfg.Now()
		at, move := p.holdUntil(e.rec, e.d, now)
		if w := at.Sub(now); w > 0 {
			soonest(w)
			break // due times rise with offset: nothing behind it is due
		}
		// Only an attempt that will POST is paced; one that ends without
		// a request (endpoint deleted or disabled) never waits.
		verdict, paced := paceGo, false
		if ep := p.r.cfg.Endpoints.Get(e.d.EndpointID); !move && ep != nil && !ep.Disabled {
			p.r.mu.Lock()
			verdict = p.r.admit(e.d.EndpointID, now, ep.Limits().Timeout)
			p.r.mu.Unlock()
			if verdict == paceWait {
				soonest(paceRecheck)
				continue // its endpoint frees a slot soon; others behind may go
			}
			paced = verdict == paceGo
		}
		if verdict == paceDefer {
			e.d.Due, move = now.Add(p.r.cfg.Retry.Delay(p.tier)), true
			p.r.count(func(s *Stats) { s.Deferred++ })
		}
		p.start(e, now, move, paced)
		return true, 0
	}
	return false, wait
}

// start makes e's attempt (or re-enqueues it, when move) on a goroutine of
// its own.
func (p *partition) start(e *entry, now time.Time, move, paced bool) {
	p.r.mu.Lock()
	e.started = true
	p.inflight++
	p.r.mu.Unlock()
	d := e.d
	p.attempts.Add(1)
	go func() {
		defer p.attempts.Done()
		tier := p.tier
		if d.Tier >= 0 {
			tier = d.Tier // its position, when written to a shorter tier
		}
		var ok bool
		if move {
			ok = p.r.requeue(d, delivery.ReplayEpoch(e.rec), tier)
		} else {
			ok = p.r.attempt(d, delivery.ReplayEpoch(e.rec), tier)
		}
		p.r.mu.Lock()
		if paced {
			p.r.finished(d.EndpointID, now, p.r.cfg.Now())
		}
		p.inflight--
		e.done = ok // not ok: stopping, left unsettled for the next owner
		p.r.mu.Unlock()
		p.signal()
	}()
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
