package deliverylog

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Health is an endpoint's recent delivery record.
type Health struct {
	// State is "healthy", or "failing" while the newest attempts since the
	// last 2xx failed. "disabled" is for the caller to set: the registry,
	// not the log, knows it.
	State string `json:"state"`
	// Reason, when failing, says since when and the newest error.
	Reason string `json:"reason,omitempty"`
	// Recent are the last status codes, newest first; 0 is no response.
	Recent []int `json:"recent"`
	// Success rates and attempts over the hour and the day before now, by
	// whole minutes; a rate is 0 when there were no attempts.
	SuccessRate1h  float64 `json:"successRate1h"`
	SuccessRate24h float64 `json:"successRate24h"`
	Attempts1h     int     `json:"attempts1h"`
	Attempts24h    int     `json:"attempts24h"`
	// P50MS and P99MS are attempt latencies over the hour, as the upper
	// bound of the histogram bucket they fall in.
	P50MS int64 `json:"p50Ms"`
	P99MS int64 `json:"p99Ms"`
	// ConsecutiveFailures counts failed attempts since the last 2xx, and
	// FailingSince is the first of them.
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	FailingSince        *time.Time `json:"failingSince,omitempty"`
	// LastDelivery is the time of the newest 2xx.
	LastDelivery *time.Time `json:"lastDelivery,omitempty"`
}

// Health states.
const (
	StateHealthy  = "healthy"
	StateFailing  = "failing"
	StateDisabled = "disabled"
)

// Health returns the health of the tenant's endpoint as of now, or
// ErrNotFound when the log holds no attempt of it for this tenant.
func (r *Reader) Health(ctx context.Context, tenant, endpointID string, now time.Time) (Health, error) {
	k := tenantKeys(r.prefix, tenant)
	from24, from1 := now.Add(-24*time.Hour).Truncate(time.Minute), now.Add(-time.Hour).Truncate(time.Minute)
	first, _ := hourOf(from24)
	last, _ := hourOf(now)
	pipe := r.rdb.Pipeline()
	state := pipe.HGetAll(ctx, k.health(endpointID))
	codes := pipe.ZRevRange(ctx, k.codes(endpointID), 0, -1)
	hours := make([]*redis.MapStringStringCmd, 0, last-first+1)
	for h := first; h <= last; h++ {
		hours = append(hours, pipe.HGetAll(ctx, k.hour(endpointID, h)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Health{}, fmt.Errorf("read health of %s: %w", endpointID, err)
	}
	st := state.Val()
	if len(st) == 0 {
		return Health{}, fmt.Errorf("endpoint %s: %w", endpointID, ErrNotFound)
	}
	h := Health{State: StateHealthy, Recent: make([]int, 0, len(codes.Val()))}
	for _, c := range codes.Val() {
		code, _, _ := strings.Cut(c, ":")
		n, _ := strconv.Atoi(code)
		h.Recent = append(h.Recent, n)
	}
	var ok1, ok24 int
	hist := make([]int, len(latencyBounds)+1)
	for n, c := range hours {
		hourStart := time.Unix((first+int64(n))*3600, 0)
		for f, v := range c.Val() {
			kind, at, bucket := parseField(hourStart, f)
			if at.Before(from24) || at.After(now) {
				continue
			}
			count, _ := strconv.Atoi(v)
			in1h := !at.Before(from1)
			switch kind {
			case "n":
				h.Attempts24h += count
				if in1h {
					h.Attempts1h += count
				}
			case "ok":
				ok24 += count
				if in1h {
					ok1 += count
				}
			case "l":
				if in1h && bucket >= 0 && bucket < len(hist) {
					hist[bucket] += count
				}
			}
		}
	}
	h.SuccessRate1h, h.SuccessRate24h = rate(ok1, h.Attempts1h), rate(ok24, h.Attempts24h)
	h.P50MS, h.P99MS = percentile(hist, 0.50), percentile(hist, 0.99)
	h.ConsecutiveFailures, _ = strconv.Atoi(st["n"])
	if t := msTime(st["ok"]); !t.IsZero() {
		h.LastDelivery = &t
	}
	if t := msTime(st["fs"]); !t.IsZero() && h.ConsecutiveFailures > 0 {
		h.FailingSince = &t
		h.State = StateFailing
		h.Reason = fmt.Sprintf("%d consecutive failures since %s", h.ConsecutiveFailures, t.Format(time.RFC3339))
		if st["err"] != "" {
			h.Reason += "; last: " + st["err"]
		}
	}
	return h, nil
}

// parseField reads an hour bucket's field name: n<m>, ok<m> or l<m>:<b>.
func parseField(hourStart time.Time, f string) (kind string, at time.Time, bucket int) {
	bucket = -1
	rest := f
	switch {
	case strings.HasPrefix(f, "ok"):
		kind, rest = "ok", f[2:]
	case strings.HasPrefix(f, "n"):
		kind, rest = "n", f[1:]
	case strings.HasPrefix(f, "l"):
		kind, rest = "l", f[1:]
		m, b, _ := strings.Cut(rest, ":")
		rest = m
		bucket, _ = strconv.Atoi(b)
	}
	minute, err := strconv.Atoi(rest)
	if err != nil {
		return "", time.Time{}, -1
	}
	return kind, hourStart.Add(time.Duration(minute) * time.Minute), bucket
}

func rate(ok, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(ok) / float64(n)
}

// percentile returns the bucket value below which the fraction q of the
// histogram's counts fall (the nearest-rank method).
func percentile(hist []int, q float64) int64 {
	total := 0
	for _, c := range hist {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := max(int(math.Ceil(q*float64(total))), 1)
	seen := 0
	for b, c := range hist {
		seen += c
		if seen >= rank {
			return bucketValue(b)
		}
	}
	return bucketValue(len(hist) - 1)
}
