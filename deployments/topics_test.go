package deployments_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
)

// service is one hookline command a deployment file runs.
type service struct {
	name string
	inv  *invocation
	env  map[string]string
}

// names are the topics a service reads or writes, by the topic layout;
// ok is false for a command that names none.
type names struct {
	events, registry string
	written          kafka.Topics
	tiers            []string
}

// topicNames is what a service's flags and environment name, each flag
// not given taking the default the binary shows for it.
func topicNames(s service) (names, bool, error) {
	if _, has := s.inv.flags["topic-prefix"]; !has {
		if _, has := s.inv.flags["topic"]; has && s.inv.words[0] == "produce" {
			ev, ok := s.inv.setting("topic", s.env)
			if !ok {
				ev = topics.DefaultEvents
			}
			return names{events: ev}, true, nil
		}
		return names{}, false, nil
	}
	prefix, ok := s.inv.setting("topic-prefix", s.env)
	if !ok {
		prefix = topics.DefaultPrefix
	}
	schedule, ok := s.inv.setting("retry-schedule", s.env)
	if !ok {
		schedule = retry.DefaultSchedule
	}
	delays, err := retry.ParseDelays(schedule)
	if err != nil {
		return names{}, false, fmt.Errorf("%s: %w", s.name, err)
	}
	l := kafka.Layout{Prefix: prefix, Delays: delays}
	if _, has := s.inv.flags["events-topic"]; has {
		ev, ok := s.inv.setting("events-topic", s.env)
		if !ok {
			ev = topics.DefaultEvents
		}
		l.Events = ev
	}
	n := names{registry: l.Registry(), written: l.Topics(), tiers: l.Retry().Topics()}
	if _, has := s.inv.flags["events-topic"]; has || s.inv.words[0] == "api" {
		n.events = n.written.Events // the API publishes POST /v1/events there
	}
	return n, true, nil
}

// checkTopicNames: every service of a deployment names the topics the
// topics command lays out, so none writes to or waits on a topic nobody
// created.
func checkTopicNames(t *testing.T, layoutSvc string, svcs []service) {
	t.Helper()
	var want names
	for _, s := range svcs {
		if s.name == layoutSvc {
			n, _, err := topicNames(s)
			if err != nil {
				t.Fatal(err)
			}
			want = n
		}
	}
	if want.registry == "" {
		t.Fatalf("no %s service laying out the topics", layoutSvc)
	}
	for _, s := range svcs {
		got, ok, err := topicNames(s)
		switch {
		case err != nil:
			t.Error(err)
		case !ok || s.name == layoutSvc:
		case got.events != "" && got.events != want.events:
			t.Errorf("%s reads or writes events on %s; %s lays out %s", s.name, got.events, layoutSvc, want.events)
		case got.registry != "" && (got.registry != want.registry || got.written.Dead != want.written.Dead ||
			got.written.Attempts != want.written.Attempts || got.written.Invalid != want.written.Invalid):
			t.Errorf("%s names %+v and %s; %s lays out %+v and %s", s.name, got.written, got.registry, layoutSvc, want.written, want.registry)
		case got.tiers != nil && !slices.Equal(got.tiers, want.tiers):
			t.Errorf("%s retries through %v; %s lays out %v", s.name, got.tiers, layoutSvc, want.tiers)
		}
	}
}
