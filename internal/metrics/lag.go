package metrics

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Consumer lag is asked of Kafka at scrape time, at most once per
// interval whatever the number of scrapers, and bounded by a timeout: a
// scrape costs one DescribeGroups, one OffsetFetch per group and one
// ListOffsets per broker, and a Kafka that does not answer delays a scrape
// by lagTimeout at most.
const (
	DefaultLagInterval = 10 * time.Second
	lagTimeout         = 5 * time.Second
)

// lagCollector reports hookline_consumer_lag and hookline_retry_tier_depth.
type lagCollector struct {
	m         *Metrics
	lagDesc   *prometheus.Desc
	depthDesc *prometheus.Desc
	fetchMu   sync.Mutex // one query at a time; the others take its result
	mu        sync.Mutex
	adm       *kadm.Client
	every     time.Duration
	groups    map[string]map[string]string // group -> its tier topics -> tier label
	at        time.Time
	cached    []prometheus.Metric
}

func newLagCollector(m *Metrics) *lagCollector {
	return &lagCollector{m: m, groups: map[string]map[string]string{},
		lagDesc: prometheus.NewDesc("hookline_consumer_lag",
			"Records of a topic not yet committed by a consumer group (summed over partitions).", []string{"group", "topic"}, nil),
		depthDesc: prometheus.NewDesc("hookline_retry_tier_depth",
			"Records waiting in a retry tier: the retriers' lag on its topic.", []string{"tier"}, nil),
	}
}

// WatchLag reports the consumer lag of the groups of the Dispatcher and
// Retrier views made from m, and of groups, asking Kafka through adm at
// most once per every (0: DefaultLagInterval). Without it no lag is
// reported.
func (m *Metrics) WatchLag(adm *kadm.Client, every time.Duration, groups ...string) {
	c := m.lag
	c.mu.Lock()
	defer c.mu.Unlock()
	c.adm, c.every, c.at = adm, every, time.Time{}
	if c.every <= 0 {
		c.every = DefaultLagInterval
	}
	for _, g := range groups {
		if _, ok := c.groups[g]; !ok {
			c.groups[g] = nil
		}
	}
}

func (c *lagCollector) watch(group string, tiers map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tiers != nil || c.groups[group] == nil {
		c.groups[group] = tiers
	}
	c.at = time.Time{}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagDesc
	ch <- c.depthDesc
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.current() {
		ch <- m
	}
}

// current returns the last figures, asking Kafka again when they are
// older than the interval.
func (c *lagCollector) current() []prometheus.Metric {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	c.mu.Lock()
	adm, groups := c.adm, maps.Clone(c.groups)
	fresh := time.Since(c.at) < c.every
	cached := c.cached
	c.mu.Unlock()
	if adm == nil || len(groups) == 0 {
		return nil
	}
	if fresh {
		return cached
	}
	out := c.query(adm, groups)
	c.mu.Lock()
	c.at, c.cached = time.Now(), out
	c.mu.Unlock()
	return out
}

// query asks Kafka for the groups' lag. A group whose lag cannot be had
// is left out (a stale figure would hide an outage) and counted as a
// Kafka error.
func (c *lagCollector) query(adm *kadm.Client, groups map[string]map[string]string) []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	names := slices.Sorted(maps.Keys(groups))
	lags, err := adm.Lag(ctx, names...)
	if err != nil {
		for _, g := range names {
			c.m.kafkaErrors.WithLabelValues(g, "lag").Inc()
		}
		return nil
	}
	var out []prometheus.Metric
	for _, g := range names {
		l, ok := lags[g]
		if !ok || l.Error() != nil {
			c.m.kafkaErrors.WithLabelValues(g, "lag").Inc()
			continue
		}
		byTopic, failed := topicLag(l.Lag)
		if failed {
			c.m.kafkaErrors.WithLabelValues(g, "lag").Inc()
		}
		for _, t := range slices.Sorted(maps.Keys(byTopic)) {
			out = append(out, prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, float64(byTopic[t]), g, t))
			if tier, ok := groups[g][t]; ok {
				out = append(out, prometheus.MustNewConstMetric(c.depthDesc, prometheus.GaugeValue, float64(byTopic[t]), tier))
			}
		}
	}
	return out
}

// topicLag sums the lag per topic; a partition whose offsets could not be
// listed is left out of its topic's sum and reported as failed.
func topicLag(l kadm.GroupLag) (map[string]int64, bool) {
	out := map[string]int64{}
	failed := false
	for t, ps := range l {
		var sum int64
		n := 0
		for _, p := range ps {
			if p.Err != nil || p.Lag < 0 {
				failed = true
				continue
			}
			sum += p.Lag
			n++
		}
		if n > 0 {
			out[t] = sum
		}
	}
	return out, failed
}
