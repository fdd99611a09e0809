package metrics

import (
	"time"

	"github.com/hookline/hookline/internal/retry"
	"github.com/prometheus/client_golang/prometheus"
)

// tierFigures are one tier's series, resolved once so that counting on
// the delivery path is a few atomic adds, not label lookups.
type tierFigures struct {
	name     string
	settled  map[string]prometheus.Counter // outcome
	dead     map[string]prometheus.Counter // cause
	attempts map[string]prometheus.Counter // code class
	seconds  prometheus.Observer
	late     prometheus.Observer
	m        *Metrics
}

func (m *Metrics) tier(name string) *tierFigures {
	m.tierSeries(name)
	t := &tierFigures{name: name, m: m, settled: map[string]prometheus.Counter{}, dead: map[string]prometheus.Counter{},
		attempts: map[string]prometheus.Counter{}, seconds: m.attemptSeconds.WithLabelValues(name)}
	for _, o := range outcomes {
		t.settled[o] = m.deliveries.WithLabelValues(name, o)
	}
	for _, c := range causes {
		t.dead[c] = m.deadLetters.WithLabelValues(name, c)
	}
	for _, c := range codes {
		t.attempts[c] = m.attempts.WithLabelValues(name, c)
	}
	return t
}

func pick(cs map[string]prometheus.Counter, vec *prometheus.CounterVec, tier, v string) prometheus.Counter {
	if c, ok := cs[v]; ok {
		return c
	}
	return vec.WithLabelValues(tier, v)
}

func (t *tierFigures) attempted(status int, latency time.Duration) {
	t.attempts[codeClass(status)].Inc()
	t.seconds.Observe(latency.Seconds())
}

func (t *tierFigures) settle(outcome, cause string) {
	pick(t.settled, t.m.deliveries, t.name, outcome).Inc()
	if outcome == OutcomeDead {
		pick(t.dead, t.m.deadLetters, t.name, cause).Inc()
	}
}

// Dispatcher is the dispatcher's view: it implements dispatcher.Metrics
// and member.Observer.
type Dispatcher struct {
	KafkaErrors
	consumed, matched, invalid prometheus.Counter
	buffered                   prometheus.Gauge
	batchEvents, batchBytes    prometheus.Observer
	markWait, markRound        prometheus.Observer
	marks                      prometheus.Counter
	t                          *tierFigures
}

// Dispatcher returns the figures of a dispatcher of group. Consumer lag
// is reported for that group from then on.
func (m *Metrics) Dispatcher(group string) *Dispatcher {
	m.lag.watch(group, nil)
	return &Dispatcher{
		KafkaErrors: m.kafkaClient(group),
		consumed:    m.consumed.WithLabelValues(group), matched: m.matched.WithLabelValues(group),
		invalid: m.invalid.WithLabelValues(group), buffered: m.buffered.WithLabelValues(group),
		batchEvents: m.batchEvents, batchBytes: m.batchBytes, markWait: m.markWait, markRound: m.markRound, marks: m.marks,
		t: m.tier(TierDispatch),
	}
}

// Consumed counts one poll's records: read, matched to endpoints, and
// malformed.
func (d *Dispatcher) Consumed(records, matched, invalid int) {
	if records > 0 {
		d.consumed.Add(float64(records))
	}
	if matched > 0 {
		d.matched.Add(float64(matched))
	}
	if invalid > 0 {
		d.invalid.Add(float64(invalid))
	}
}

// Attempted counts a first attempt by its answer (0: none) and its time.
func (d *Dispatcher) Attempted(status int, latency time.Duration) { d.t.attempted(status, latency) }

// Settled counts a delivery whose outcome is durable, with its size.
func (d *Dispatcher) Settled(outcome, cause string, items, bytes int) {
	d.t.settle(outcome, cause)
	d.batchEvents.Observe(float64(items))
	d.batchBytes.Observe(float64(bytes))
}

// Marked observes a settled delivery's wait for its mark.
func (d *Dispatcher) Marked(wait time.Duration) { d.markWait.Observe(wait.Seconds()) }

// MarkRound observes one round trip of marks.
func (d *Dispatcher) MarkRound(marks int, took time.Duration) {
	d.markRound.Observe(took.Seconds())
	d.marks.Add(float64(marks))
}

// Buffered sets the event bytes held.
func (d *Dispatcher) Buffered(bytes int64) { d.buffered.Set(float64(bytes)) }

// Retrier is the retrier's view: it implements retrier.Metrics and
// member.Observer.
type Retrier struct {
	KafkaErrors
	tiers        []*tierFigures
	paused, held prometheus.Gauge
}

// Retrier returns the figures of a retrier of group running policy's
// tiers. Consumer lag is reported for the group from then on, and its lag
// on each tier's topic as that tier's depth.
func (m *Metrics) Retrier(group string, policy retry.Policy) *Retrier {
	policy = policy.WithDefaults()
	r := &Retrier{KafkaErrors: m.kafkaClient(group), paused: m.paused.WithLabelValues(group), held: m.held.WithLabelValues(group)}
	tiers := map[string]string{}
	for i, d := range policy.Delays {
		t := m.tier(d.String())
		t.late = m.lateness.WithLabelValues(t.name)
		r.tiers = append(r.tiers, t)
		tiers[policy.Topic(i)] = t.name
	}
	m.lag.watch(group, tiers)
	return r
}

func (r *Retrier) tier(i int) *tierFigures {
	if i < 0 || i >= len(r.tiers) {
		i = len(r.tiers) - 1 // a position past the schedule is its last tier's
	}
	return r.tiers[i]
}

// Attempted counts an attempt of tier (its index in the schedule) by its
// answer (0: none) and its time.
func (r *Retrier) Attempted(tier, status int, latency time.Duration) {
	r.tier(tier).attempted(status, latency)
}

// Settled counts a tier record whose outcome is durable, with how late
// after its due it was taken.
func (r *Retrier) Settled(tier int, outcome, cause string, lateness time.Duration) {
	t := r.tier(tier)
	t.settle(outcome, cause)
	t.late.Observe(lateness.Seconds())
}

// Held sets the partitions paused and the records waiting in memory.
func (r *Retrier) Held(paused, records int) {
	r.paused.Set(float64(paused))
	r.held.Set(float64(records))
}
