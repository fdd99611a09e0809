package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kadm"
)

// testLayout parses topics flags with a test-unique prefix.
func testLayout(t *testing.T, k testbackend.Kafka, args ...string) (layoutFlags, []kafka.TopicSpec) {
	t.Helper()
	prefix := testbackend.UniqueName(t) + "."
	var f layoutFlags
	fs := quietFlagSet("topics create")
	f.register(fs)
	base := []string{"--brokers", strings.Join(k.Brokers, ","), "--topic-prefix", prefix, "--events-topic", prefix + "events",
		"--retry-schedule", "1s,1m", "--partitions", "4", "--retry-partitions", "2"}
	if err := fs.parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	specs, err := f.layout(1)
	if err != nil {
		t.Fatal(err)
	}
	return f, specs
}

func TestTopicsCreateThenDescribe(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f, specs := testLayout(t, k)
		adm := k.Admin(t)
		var out bytes.Buffer
		if err := createTopics(ctx, &out, adm, specs); err != nil {
			t.Fatalf("create: %v\n%s", err, out.String())
		}
		if n := strings.Count(out.String(), "created  "); n != 8 {
			t.Errorf("created %d topics, want 8 (events, 2 tiers, the Retry-now lane, dead, attempts, invalid, registry)\n%s", n, out.String())
		}
		p := f.topicPrefix
		want := map[string]struct {
			parts int
			cfg   map[string]string
		}{
			p + "events":     {4, map[string]string{"retention.ms": strconv.FormatInt((7 * day).Milliseconds(), 10), "cleanup.policy": "delete"}},
			p + "retry.1s":   {2, map[string]string{"retention.ms": strconv.FormatInt((7 * day).Milliseconds(), 10)}},
			p + "retry.1m0s": {2, nil},
			p + "retry.now":  {2, map[string]string{"retention.ms": strconv.FormatInt((7 * day).Milliseconds(), 10)}},
			p + "dead":       {3, map[string]string{"retention.ms": strconv.FormatInt((14 * day).Milliseconds(), 10)}},
			// The retry horizon (1m1s) plus the 7-day replay window, rounded up to 8 days.
			p + "attempts": {6, map[string]string{"retention.ms": strconv.FormatInt((8 * day).Milliseconds(), 10)}},
			p + "invalid":  {3, nil},
			p + "registry": {1, map[string]string{"cleanup.policy": "compact"}},
		}
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		state, err := readTopics(ctx, adm, names)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			st := state[name]
			if !st.Exists || int(st.Partitions) != w.parts {
				t.Errorf("%s: exists %v with %d partitions, want %d", name, st.Exists, st.Partitions, w.parts)
			}
			if got := st.Configs["max.message.bytes"]; got != strconv.Itoa(kafka.MaxMessageBytes) {
				t.Errorf("%s: max.message.bytes %q", name, got)
			}
			for key, v := range w.cfg {
				if st.Configs[key] != v {
					t.Errorf("%s: %s=%q, want %q", name, key, st.Configs[key], v)
				}
			}
		}

		out.Reset()
		if err := createTopics(ctx, &out, adm, specs); err != nil {
			t.Fatalf("second create: %v\n%s", err, out.String())
		}
		if strings.Contains(out.String(), "created") || strings.Count(out.String(), "ok    topic ") != 8 {
			t.Errorf("second create should find all 8 in place:\n%s", out.String())
		}
		out.Reset()
		if err := describeTopics(ctx, &out, adm, specs); err != nil {
			t.Fatalf("describe: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "every topic matches the layout") || !regexp.MustCompile(`registry\s+registry\s+1\s+1\s+compacted\s+compact\s+8388608`).MatchString(out.String()) {
			t.Errorf("describe:\n%s", out.String())
		}
	})
}

func TestTopicsDescribeSaysWhatDiffers(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f, specs := testLayout(t, k)
		adm := k.Admin(t)
		p := f.topicPrefix
		// What an operator (or a broker auto-creating topics) might have
		// left: a two-partition registry, a compacted retry tier, an
		// attempt log kept one day, an events topic with fewer partitions.
		mk := func(name string, parts int32, cfg map[string]string) {
			limit := strconv.Itoa(kafka.MaxMessageBytes)
			c := map[string]*string{"max.message.bytes": &limit}
			for k, v := range cfg {
				c[k] = &v
			}
			resp, err := adm.CreateTopic(ctx, parts, -1, c, name)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		mk(p+"registry", 2, map[string]string{"cleanup.policy": "compact"})
		mk(p+"retry.1s", 2, map[string]string{"cleanup.policy": "compact"})
		mk(p+"attempts", 6, map[string]string{"retention.ms": strconv.FormatInt(day.Milliseconds(), 10)})
		mk(p+"events", 2, nil)
		if err := waitListed(ctx, adm, []string{p + "registry", p + "retry.1s", p + "attempts", p + "events"}); err != nil {
			t.Fatal(err)
		}

		var out bytes.Buffer
		err := describeTopics(ctx, &out, adm, specs)
		if !errors.Is(err, errProblems) {
			t.Fatalf("describe: %v, want problems\n%s", err, out.String())
		}
		text := out.String()
		for _, s := range []string{
			"FAIL  topic " + p + "registry: 2 partitions; the registry needs exactly 1",
			"FAIL  topic " + p + "retry.1s: cleanup.policy=compact drops all but the last record per key",
			"FAIL  topic " + p + "attempts: retention 1d, under the 7d1m1s the attempt log needs",
			"WARN  topic " + p + "events: 2 partitions, the layout asks 4: at most 2 consumers share the events",
			"FAIL  topic " + p + "dead: missing (dead letters)",
			"fix: run `hookline topics create`",
		} {
			if !strings.Contains(text, s) {
				t.Errorf("describe lacks %q:\n%s", s, text)
			}
		}
		if !strings.Contains(err.Error(), "7 topic problems") { // registry, retry.1s, attempts, and 4 missing
			t.Errorf("error %q", err)
		}
	})
}

func TestTopicsFlagsRefuseLayoutsThatLoseData(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--attempts-retention", "72h"}, "--attempts-retention (HOOKLINE_ATTEMPTS_RETENTION): want at least the retry horizon plus the replay window (182h36m0s)"},
		{[]string{"--retry-retention", "20h"}, "--retry-retention (HOOKLINE_RETRY_RETENTION): want at least twice the longest retry delay (24h0m0s)"},
		{[]string{"--dead-retention", "24h"}, "--dead-retention (HOOKLINE_DEAD_RETENTION): want at least the replay window"},
		{[]string{"--partitions", "10001"}, "--partitions (HOOKLINE_PARTITIONS): want 1-10000, got 10001"},
		{[]string{"--partitions", "0"}, `--partitions (HOOKLINE_PARTITIONS): got "0"; leave the flag out for its default, 12`},
		{[]string{"--events-retention", "30m"}, "--events-retention (HOOKLINE_EVENTS_RETENTION): want at least 1h, got 30m0s"},
		{[]string{"--retry-schedule", "5m,1m"}, "--retry-schedule (HOOKLINE_RETRY_SCHEDULE): retry schedule: 1m0s after 5m0s: delays must rise"},
		{[]string{"--topic-prefix", ""}, "--topic-prefix (HOOKLINE_TOPIC_PREFIX)"},
		{[]string{"--replication-factor", "-1"}, "--replication-factor (HOOKLINE_REPLICATION_FACTOR)"},
	} {
		var f layoutFlags
		fs := quietFlagSet("topics create")
		f.register(fs)
		if err := fs.parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if _, err := f.layout(1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestReplicationFactorFollowsTheCluster(t *testing.T) {
	k := testbackend.NewFake(t)
	var f layoutFlags
	fs := quietFlagSet("topics create")
	f.register(fs)
	_ = fs.parse(nil)
	rf, err := f.replicationFactor(context.Background(), kadm.NewClient(k.Client(t)))
	if err != nil || rf != 1 {
		t.Fatalf("one broker: rf %d, %v; want 1", rf, err)
	}
	specs, _ := f.layout(3)
	for _, s := range specs {
		if s.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s at rf 3: min.insync.replicas %q, want 2", s.Name, s.Configs["min.insync.replicas"])
		}
	}
}
