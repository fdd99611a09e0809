package kafka

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
)

// TestDefaultLayoutIsEveryComponentsDefault: a component left to its
// defaults uses the topics the default layout creates.
func TestDefaultLayoutIsEveryComponentsDefault(t *testing.T) {
	var l Layout
	if got, want := l.Topics(), (Topics{}).WithDefaults(); got != want {
		t.Errorf("layout topics %+v, Topics defaults %+v", got, want)
	}
	if got, want := l.Retry().Topics(), (retry.Policy{}).Topics(); !slices.Equal(got, want) {
		t.Errorf("layout tiers %v, retry.Policy defaults %v", got, want)
	}
	if l.Registry() != topics.DefaultRegistry || l.Topics().Events != "hookline.events" {
		t.Errorf("registry %q, events %q", l.Registry(), l.Topics().Events)
	}
}

func TestLayoutNamesFollowThePrefix(t *testing.T) {
	l := Layout{Prefix: "acme.", Delays: []time.Duration{time.Second, time.Minute}}
	if got := l.Topics(); got != (Topics{Events: "acme.events", Invalid: "acme.invalid", Attempts: "acme.attempts", Dead: "acme.dead"}) {
		t.Errorf("topics %+v", got)
	}
	if got := l.Retry().Topics(); !slices.Equal(got, []string{"acme.retry.1s", "acme.retry.1m0s"}) {
		t.Errorf("tiers %v", got)
	}
	if l.Registry() != "acme.registry" {
		t.Errorf("registry %q", l.Registry())
	}
	l.Events = "domain.changes"
	if got := l.Topics(); got.Events != "domain.changes" || got.Dead != "acme.dead" {
		t.Errorf("with an events topic of its own: %+v", got)
	}
}

func TestDefaultSpecs(t *testing.T) {
	specs, err := Layout{}.Specs()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		parts     int32
		retention time.Duration
		least     time.Duration
		cleanup   string
	}
	wants := map[string]want{
		"hookline.events":        {12, 7 * day, time.Hour, "delete"},
		"hookline.retry.1m0s":    {6, 7 * day, 2 * time.Minute, "delete"},
		"hookline.retry.12h0m0s": {6, 7 * day, 24 * time.Hour, "delete"},
		// The Retry-now lane: due on arrival, kept as the first tier is.
		"hookline.retry.now": {6, 7 * day, 2 * time.Minute, "delete"},
		"hookline.dead":      {3, 14 * day, retry.DefaultReplayWindow, "delete"},
		// The retry horizon (14h36m) plus the replay window, in whole days.
		"hookline.attempts": {6, 8 * day, 14*time.Hour + 36*time.Minute + retry.DefaultReplayWindow, "delete"},
		"hookline.invalid":  {3, 14 * day, time.Hour, "delete"},
		"hookline.registry": {1, 0, 0, "compact"},
	}
	if len(specs) != 11 {
		t.Errorf("%d topics, want 11 (events, 5 tiers, the Retry-now lane, dead, attempts, invalid, registry)", len(specs))
	}
	for _, s := range specs {
		if s.RF != DefaultReplicationFactor || s.Configs["min.insync.replicas"] != "2" || s.Configs["max.message.bytes"] != strconv.Itoa(MaxMessageBytes) {
			t.Errorf("%s: rf %d, configs %v", s.Name, s.RF, s.Configs)
		}
		w, ok := wants[s.Name]
		if !ok {
			continue
		}
		if s.Partitions != w.parts || s.Retention != w.retention || s.MinRetention != w.least || s.Configs["cleanup.policy"] != w.cleanup {
			t.Errorf("%s: %+v, want %+v", s.Name, s, w)
		}
		if w.cleanup == "delete" && s.Configs["retention.ms"] != strconv.FormatInt(w.retention.Milliseconds(), 10) {
			t.Errorf("%s: retention.ms %q", s.Name, s.Configs["retention.ms"])
		}
		if (s.Name == "hookline.registry") != s.ExactPartitions {
			t.Errorf("%s: exact partitions %v", s.Name, s.ExactPartitions)
		}
	}
	one, _ := Layout{ReplicationFactor: 1}.Specs()
	if _, ok := one[0].Configs["min.insync.replicas"]; ok || one[0].RF != 1 {
		t.Errorf("one replica: rf %d, configs %v (min.insync.replicas would stop every write)", one[0].RF, one[0].Configs)
	}
}

func TestLayoutBounds(t *testing.T) {
	for _, tc := range []struct {
		l      Layout
		field  string
		reason string
	}{
		{Layout{EventPartitions: -1}, "EventPartitions", "want 1-10000, got -1"},
		{Layout{TierPartitions: MaxPartitions + 1}, "TierPartitions", "want 1-10000, got 10001"},
		{Layout{InvalidPartitions: -3}, "InvalidPartitions", "want 1-10000, got -3"},
		{Layout{ReplicationFactor: 33}, "ReplicationFactor", "want 1-32 (or 0 for the default), got 33"},
		{Layout{EventRetention: 30 * time.Minute}, "EventRetention", "want at least 1h, got 30m0s"},
		{Layout{TierRetention: 20 * time.Hour}, "TierRetention", "want at least twice the longest retry delay (24h0m0s), got 20h0m0s"},
		{Layout{AttemptRetention: 72 * time.Hour}, "AttemptRetention", "want at least the retry horizon plus the replay window (182h36m0s), got 72h0m0s"},
		{Layout{DeadRetention: day}, "DeadRetention", "want at least the replay window (168h0m0s), got 24h0m0s"},
		{Layout{InvalidRetention: time.Minute}, "InvalidRetention", "want at least 1h, got 1m0s"},
		{Layout{Delays: []time.Duration{time.Hour, time.Minute}}, "Delays", "retry schedule: 1m0s after 1h0m0s: delays must rise"},
	} {
		err := tc.l.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrLayout) || fe.Field != tc.field || fe.Reason != tc.reason {
			t.Errorf("%+v: %v, want %s: %s", tc.l, err, tc.field, tc.reason)
		}
		if _, err := tc.l.Specs(); err == nil {
			t.Errorf("%+v: Specs without an error", tc.l)
		}
	}
	short := Layout{Delays: []time.Duration{time.Second, time.Minute}, TierRetention: 2 * time.Minute, AttemptRetention: 7*day + time.Minute + time.Second}
	if err := short.Validate(); err != nil {
		t.Errorf("a short schedule's minima: %v", err)
	}
}
