// Package retry is hookline's retry policy, in one place for the
// dispatcher, the retrier, replay and the command line: the schedule of
// delayed tiers, their topic names, where a failed delivery goes next and
// when it is due, how an endpoint's maxAge ends the chain, and how long a
// delivery's done mark must outlive it.
//
// Each tier is a Kafka topic with one fixed delay, so due times rise with
// offset within a tier and a consumer can wait on a partition's head.
package retry

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/topics"
)

// Policy is a retry schedule and its topics. The zero value is the default
// schedule under the default prefix.
type Policy struct {
	// Delays of the tiers, in order. Default 1m, 5m, 30m, 2h, 12h
	// (DefaultSchedule): a failing endpoint is tried five more times over
	// about fourteen and a half hours, each wait longer than the last.
	Delays []time.Duration
	// Prefix names the tier topics: <Prefix><delay>, e.g.
	// hookline.retry.1m0s. Default "hookline.retry." (the tiers of the
	// default topic layout, internal/topics).
	Prefix string
	// ReplayWindow is how long after the retry horizon a delivery's done
	// mark is kept, so a replay within it never sends a delivered
	// delivery again. Default 7 days.
	ReplayWindow time.Duration
}

// Defaults of a Policy. DefaultSchedule is written as a command line
// takes it, so the flags that set a schedule show it as their default.
const (
	DefaultSchedule     = "1m,5m,30m,2h,12h"
	DefaultPrefix       = topics.DefaultTierPrefix
	DefaultReplayWindow = 7 * 24 * time.Hour
)

// DefaultDelays returns DefaultSchedule's delays (a fresh slice each
// call, so no caller can change another's).
func DefaultDelays() []time.Duration {
	d, err := ParseDelays(DefaultSchedule)
	if err != nil {
		panic(err) // a constant; TestDefaultsAndTopics reads it
	}
	return d
}

// ErrSchedule marks a schedule that cannot work.
var ErrSchedule = errors.New("retry schedule")

// ParseDelays reads a comma-separated schedule such as "1m,5m,30m".
// Delays must be positive, distinct and rising: a tier's partitions are
// waited on in offset order, and a shorter tier after a longer one would
// only reorder the chain.
func ParseDelays(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%w: %q is not a positive duration such as 1m", ErrSchedule, part)
		}
		out = append(out, d)
	}
	if err := CheckDelays(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckDelays holds a schedule to ParseDelays's rules: at least one
// delay, each positive and longer than the one before.
func CheckDelays(delays []time.Duration) error {
	if len(delays) == 0 {
		return fmt.Errorf("%w: empty; give at least one delay, e.g. %s", ErrSchedule, DefaultSchedule)
	}
	for i, d := range delays {
		switch {
		case d <= 0:
			return fmt.Errorf("%w: %s is not a positive duration such as 1m", ErrSchedule, d)
		case i > 0 && d <= delays[i-1]:
			return fmt.Errorf("%w: %s after %s: delays must rise", ErrSchedule, d, delays[i-1])
		}
	}
	return nil
}

// WithDefaults fills what is unset.
func (p Policy) WithDefaults() Policy {
	if len(p.Delays) == 0 {
		p.Delays = DefaultDelays()
	}
	if p.Prefix == "" {
		p.Prefix = DefaultPrefix
	}
	if p.ReplayWindow == 0 {
		p.ReplayWindow = DefaultReplayWindow
	}
	return p
}

// Tiers is the number of tiers.
func (p Policy) Tiers() int { return len(p.WithDefaults().Delays) }

// Topic names tier i (0-based).
func (p Policy) Topic(i int) string {
	p = p.WithDefaults()
	return p.Prefix + p.Delays[i].String()
}

// Topics names every tier, in schedule order.
func (p Policy) Topics() []string {
	p = p.WithDefaults()
	out := make([]string, len(p.Delays))
	for i := range p.Delays {
		out[i] = p.Topic(i)
	}
	return out
}

// Lane names the Retry-now lane, <Prefix>now (e.g. hookline.retry.now):
// the topic replays write to. Its records are due when written, so the
// retrier attempts them on arrival instead of waiting behind the records
// a tier holds; a failure goes on to the tiers as from the first one. No
// delay's name ("1m0s") can be "now".
func (p Policy) Lane() string { return p.WithDefaults().Prefix + "now" }

// Tier returns the index of the tier named topic.
func (p Policy) Tier(topic string) (int, bool) {
	for i, t := range p.Topics() {
		if t == topic {
			return i, true
		}
	}
	return 0, false
}

// Delay is tier i's delay.
func (p Policy) Delay(i int) time.Duration { return p.WithDefaults().Delays[i] }

// Horizon is the sum of the delays: the longest a chain can run.
func (p Policy) Horizon() time.Duration {
	var h time.Duration
	for _, d := range p.WithDefaults().Delays {
		h += d
	}
	return h
}

// DoneTTL is how long a delivery's done (and handed) mark is kept: the
// whole retry horizon plus the replay window.
func (p Policy) DoneTTL() time.Duration { return p.Horizon() + p.WithDefaults().ReplayWindow }
