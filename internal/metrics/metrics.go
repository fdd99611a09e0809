// Package metrics exports hookline's figures in the Prometheus format: what
// the dispatcher consumed and delivered, the retry tiers' attempts, depth
// and lateness, dead letters, Redis and Kafka errors, and consumer-group
// lag. Each Metrics has its own registry (nothing is registered globally),
// and the dispatcher and the retrier take their views of it through small
// interfaces declared in those packages; without one they count nothing.
//
// Labels are of bounded cardinality only: a consumer group, a topic, a
// retry tier ("dispatch" is the dispatcher's first attempt, the others are
// the tiers' delays, "1m0s"), an outcome, a dead-letter cause, an HTTP
// status class. No figure is labelled by endpoint, tenant or URL: with
// thousands of endpoints that would make every series a thousand. One
// endpoint's figures (its recent status codes, failing since, success
// rate, deliveries and their attempts) are in the management API's
// endpoint health view, GET /v1/endpoints/{id}/health, and its delivery
// log, GET /v1/endpoints/{id}/deliveries.
//
// A figure is counted once its outcome is durable (a delivery settles
// when its 2xx is recorded in Redis or its record is in the next tier or
// the dead letters), so the counters agree with what a restart would
// find. Counting never blocks and cannot fail a delivery.
package metrics

import (
	"github.com/hookline/hookline/internal/delivery"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values shared by the dispatcher's and the retrier's figures.
const (
	// TierDispatch is the tier label of the dispatcher's first attempt.
	TierDispatch = "dispatch"

	// Outcomes and dead-letter causes are the delivery package's.
	OutcomeDelivered = delivery.SettledDelivered
	OutcomeRetrying  = delivery.SettledRetrying
	OutcomeDeferred  = delivery.SettledDeferred
	OutcomeDead      = delivery.SettledDead

	CauseRejected  = delivery.CauseRejected
	CauseGone      = delivery.CauseGone
	CauseExhausted = delivery.CauseExhausted
	CauseMaxAge    = delivery.CauseMaxAge
	CauseEndpoint  = delivery.CauseEndpoint
	CauseTooLarge  = delivery.CauseTooLarge
)

var (
	outcomes = []string{OutcomeDelivered, OutcomeRetrying, OutcomeDeferred, OutcomeDead}
	causes   = []string{CauseRejected, CauseGone, CauseExhausted, CauseMaxAge, CauseEndpoint, CauseTooLarge}
	codes    = []string{"2xx", "3xx", "4xx", "5xx", "error"}
	// kafkaOps are the Kafka calls whose failures are counted.
	kafkaOps = []string{"produce", "fetch", "commit", "lag"}
)

// Metrics is one process's set of figures. Create with New; the zero
// value is not usable.
type Metrics struct {
	reg *prometheus.Registry

	consumed, matched, invalid *prometheus.CounterVec // group
	deliveries                 *prometheus.CounterVec // tier, outcome
	deadLetters                *prometheus.CounterVec // tier, cause
	attempts                   *prometheus.CounterVec // tier, code
	attemptSeconds             *prometheus.HistogramVec
	batchEvents, batchBytes    prometheus.Histogram
	markWait, markRound        prometheus.Histogram
	marks                      prometheus.Counter
	buffered                   *prometheus.GaugeVec // group
	paused, held               *prometheus.GaugeVec // group
	lateness                   *prometheus.HistogramVec
	redisErrors                prometheus.Counter
	kafkaErrors                *prometheus.CounterVec // client, op

	lag *lagCollector
}

// New makes a Metrics with its own registry, holding the Go runtime's and
// the process's standard collectors besides hookline's own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m.consumed = counter("hookline_events_consumed_total", "Records read from the events topics.", "group")
	m.matched = counter("hookline_events_matched_total", "Events added to an endpoint's batch: an event matching two endpoints counts twice.", "group")
	m.invalid = counter("hookline_events_invalid_total", "Malformed records written to the invalid-records topic.", "group")
	m.deliveries = counter("hookline_deliveries_total", "Deliveries settled, by the tier they were taken from (dispatch: the dispatcher) and what became of them.", "tier", "outcome")
	m.deadLetters = counter("hookline_dead_letters_total", "Deliveries written to the dead letters, by tier and cause; they sum to hookline_deliveries_total{outcome=\"dead\"}.", "tier", "cause")
	m.attempts = counter("hookline_attempts_total", "HTTP attempts by tier and answer: the status class, or error when no answer came (connection refused, timeout).", "tier", "code")
	m.attemptSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hookline_attempt_duration_seconds", Help: "Time from sending a delivery to its answer, by tier.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"tier"})
	m.batchEvents = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hookline_batch_events", Help: "Events per delivery the dispatcher settled.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000},
	})
	m.batchBytes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hookline_batch_bytes", Help: "Body bytes per delivery the dispatcher settled.",
		Buckets: prometheus.ExponentialBuckets(256, 4, 9),
	})
	markBuckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
	m.markWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hookline_mark_wait_seconds", Help: "How long a settled delivery waited for its Redis mark to be stored; its slot is reused only after.",
		Buckets: markBuckets,
	})
	m.markRound = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hookline_mark_round_trip_seconds", Help: "Redis round trips that stored the dispatcher's marks, each carrying every mark ready (group commit).",
		Buckets: markBuckets,
	})
	m.marks = prometheus.NewCounter(prometheus.CounterOpts{Name: "hookline_marks_total",
		Help: "Marks the dispatcher's round trips stored; over hookline_mark_round_trip_seconds_count, the marks per round trip (failed ones show in hookline_redis_errors_total)."})
	m.buffered = gauge("hookline_buffered_bytes", "Event bytes the dispatcher holds in batches and in flight; fetching waits at --max-buffered-bytes.", "group")
	m.paused = gauge("hookline_paused_partitions", "Retry-tier partitions whose fetching is paused while their fetched records wait to be due.", "group")
	m.held = gauge("hookline_retry_held_records", "Retry-tier records fetched and waiting in memory; the rest of a tier's backlog stays in Kafka.", "group")
	m.lateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hookline_retry_due_lateness_seconds", Help: "How long after its due time a retry was taken, by tier.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"tier"})
	m.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "hookline_redis_errors_total",
		Help: "Redis commands that failed (each is retried; a key not found is no error)."})
	m.kafkaErrors = counter("hookline_kafka_errors_total", "Kafka calls that failed and are retried, by client (a consumer group) and call.", "client", "op")
	m.lag = newLagCollector(m)
	m.reg.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.consumed, m.matched, m.invalid, m.deliveries, m.deadLetters, m.attempts, m.attemptSeconds,
		m.batchEvents, m.batchBytes, m.markWait, m.markRound, m.marks, m.buffered, m.paused, m.held, m.lateness, m.redisErrors, m.kafkaErrors, m.lag,
	)
	return m
}

// Registry is the registry the figures are gathered from, for tests and
// for adding collectors of one's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the figures in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// codeClass is an HTTP status's class label; 0 (no answer) is "error".
func codeClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "error"
}

// tierSeries creates the series of one tier at zero, so that rates and
// the dashboard show them before the first event.
func (m *Metrics) tierSeries(tier string) {
	for _, o := range outcomes {
		m.deliveries.WithLabelValues(tier, o)
	}
	for _, c := range causes {
		m.deadLetters.WithLabelValues(tier, c)
	}
	for _, c := range codes {
		m.attempts.WithLabelValues(tier, c)
	}
	m.attemptSeconds.WithLabelValues(tier)
}

// KafkaErrors counts the failed Kafka calls of one client.
type KafkaErrors struct {
	ops map[string]prometheus.Counter
	vec *prometheus.CounterVec
	cl  string
}

func (m *Metrics) kafkaClient(client string) KafkaErrors {
	k := KafkaErrors{ops: map[string]prometheus.Counter{}, vec: m.kafkaErrors, cl: client}
	for _, op := range kafkaOps {
		k.ops[op] = m.kafkaErrors.WithLabelValues(client, op)
	}
	return k
}

// KafkaError counts one failed call: produce, fetch, commit, lag.
func (k KafkaErrors) KafkaError(op string) {
	c, ok := k.ops[op]
	if !ok {
		c = k.vec.WithLabelValues(k.cl, op)
	}
	c.Inc()
}
