package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func quietFlagSet(name string) *flagSet {
	fs := newFlagSet(name, "")
	fs.SetOutput(io.Discard)
	return fs
}

func TestRetrierRefusesDispatcherOnlyFlags(t *testing.T) {
	for _, f := range []string{"--max-buffered-bytes", "--fetch-partition-bytes", "--max-queued", "--events-topic"} {
		_, _, err := parseRetrier(quietFlagSet("retrier"), []string{f, "1"})
		if err == nil || !strings.Contains(err.Error(), "flag provided but not defined") {
			t.Errorf("retrier %s 1: %v, want an unknown flag", f, err)
		}
	}
}

func TestRetrierFlagsReachItsConfig(t *testing.T) {
	s, r, err := parseRetrier(quietFlagSet("retrier"), []string{"--concurrency", "5", "--topic-prefix", "acme.", "--retry-schedule", "1s,2s"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := buildRetrier(s, r, deps{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Concurrency != 5 || cfg.Group != "hookline-retrier" {
		t.Errorf("concurrency %d, group %q; want 5, hookline-retrier", cfg.Concurrency, cfg.Group)
	}
	if got := cfg.Retry.Topics(); len(got) != 2 || got[0] != "acme.retry.1s" {
		t.Errorf("tiers %v", got)
	}
	if _, r, _ := parseRetrier(quietFlagSet("retrier"), nil); r.concurrency != 16 {
		t.Errorf("default concurrency %d, want 16", r.concurrency)
	}
	_, r, _ = parseRetrier(quietFlagSet("retrier"), []string{"--concurrency", "0"})
	if _, err := buildRetrier(s, r, deps{}); err == nil || !strings.Contains(err.Error(), "--concurrency (HOOKLINE_CONCURRENCY)") {
		t.Errorf("concurrency 0: %v", err)
	}
}

func TestRetrierGroupFromTheEnvironment(t *testing.T) {
	t.Setenv("HOOKLINE_GROUP", "env-retriers")
	_, r, err := parseRetrier(quietFlagSet("retrier"), nil)
	if err != nil || r.group != "env-retriers" {
		t.Fatalf("group %q, %v", r.group, err)
	}
}

func TestDevGroups(t *testing.T) {
	for _, tc := range []struct {
		args             []string
		dispatch, retrig string
	}{
		{nil, "hookline-dispatcher", "hookline-retrier"},
		{[]string{"--group", "d"}, "d", "hookline-retrier"},
		{[]string{"--group", "d", "--retrier-group", "r"}, "d", "r"},
		{[]string{"--retrier-group", "r"}, "hookline-dispatcher", "r"},
	} {
		c, err := parseDev(quietFlagSet("dev"), append(tc.args, "--retrier-concurrency", "3", "--concurrency", "2"))
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		dc, err := buildDispatcher(&c.shared, &c.disp, deps{})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := buildRetrier(&c.shared, &c.ret, deps{})
		if err != nil {
			t.Fatal(err)
		}
		if dc.Group != tc.dispatch || rc.Group != tc.retrig {
			t.Errorf("%v: groups %q and %q, want %q and %q", tc.args, dc.Group, rc.Group, tc.dispatch, tc.retrig)
		}
		if dc.Concurrency != 2 || rc.Concurrency != 3 {
			t.Errorf("%v: concurrency %d and %d, want 2 and 3", tc.args, dc.Concurrency, rc.Concurrency)
		}
	}
}

func TestDevRefusesBadFlagsBeforeStarting(t *testing.T) {
	_, err := parseDev(quietFlagSet("dev"), []string{"--retrier-concurrency", "0"})
	if err == nil || !strings.Contains(err.Error(), "--retrier-concurrency (HOOKLINE_RETRIER_CONCURRENCY)") {
		t.Errorf("retrier-concurrency 0: %v", err)
	}
	_, err = parseDev(quietFlagSet("dev"), []string{"--max-buffered-bytes", "1"})
	if err == nil || !strings.Contains(err.Error(), "--max-buffered-bytes") {
		t.Errorf("max-buffered-bytes 1: %v", err)
	}
}

func TestDispatcherAndRetrierAgreeOnSharedFlags(t *testing.T) {
	args := []string{"--topic-prefix", "x.", "--header-prefix", "X-Acme", "--user-agent", "ua", "--session-timeout", "6s",
		"--retry-schedule", "1m", "--allow-networks", "10.0.0.0/8", "--brokers", "a:1,b:2"}
	s, d, err := parseDispatcher(quietFlagSet("dispatcher"), args)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := buildDispatcher(s, d, deps{})
	if err != nil {
		t.Fatal(err)
	}
	s, r, err := parseRetrier(quietFlagSet("retrier"), args)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := buildRetrier(s, r, deps{})
	if err != nil {
		t.Fatal(err)
	}
	if dc.Topics.Dead != "x.dead" || rc.Topics.Dead != dc.Topics.Dead || rc.Topics.Attempts != dc.Topics.Attempts {
		t.Errorf("topics %+v and %+v", dc.Topics, rc.Topics)
	}
	if dc.Sender.Prefix != "X-Acme" || rc.Sender.Prefix != dc.Sender.Prefix || rc.Sender.UserAgent != "ua" ||
		len(rc.Sender.AllowNetworks) != 1 || len(dc.Sender.AllowNetworks) != 1 {
		t.Errorf("senders %+v and %+v", dc.Sender, rc.Sender)
	}
	if len(dc.Brokers) != 2 || len(rc.Brokers) != 2 || len(rc.KafkaOpts) != len(dc.KafkaOpts) {
		t.Errorf("brokers %v and %v", dc.Brokers, rc.Brokers)
	}
	if dc.Group != "hookline-dispatcher" || dc.Topics.Events != "hookline.events" {
		t.Errorf("dispatcher group %q, events %q", dc.Group, dc.Topics.Events)
	}
}

func TestMarkLingerFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"--mark-linger", "500us"}, 500 * time.Microsecond},
	} {
		c, err := parseDev(quietFlagSet("dev"), tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		dc, err := buildDispatcher(&c.shared, &c.disp, deps{})
		if err != nil {
			t.Fatal(err)
		}
		if dc.MarkLinger != tc.want {
			t.Errorf("%v: MarkLinger %v, want %v", tc.args, dc.MarkLinger, tc.want)
		}
	}
	if _, err := parseDev(quietFlagSet("dev"), []string{"--mark-linger", "1s"}); err == nil || !strings.Contains(err.Error(), "--mark-linger") {
		t.Errorf("mark-linger 1s: %v", err)
	}
}

// TestFlagErrorsNameTheFlagWithThePackagesReason: each bound is the
// package's, and the command reports it as its flag and environment
// variable, in the words of its flags.
func TestFlagErrorsNameTheFlagWithThePackagesReason(t *testing.T) {
	build := func(cmd string, args []string) error {
		switch cmd {
		case "dispatcher":
			s, d, err := parseDispatcher(quietFlagSet(cmd), args)
			if err != nil {
				return err
			}
			_, err = buildDispatcher(s, d, deps{})
			return err
		case "retrier":
			s, r, err := parseRetrier(quietFlagSet(cmd), args)
			if err != nil {
				return err
			}
			_, err = buildRetrier(s, r, deps{})
			return err
		}
		_, err := parseDev(quietFlagSet(cmd), args)
		return err
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"dispatcher", []string{"--concurrency", "65"}, "invalid --concurrency (HOOKLINE_CONCURRENCY): want 1-64, got 65"},
		{"dispatcher", []string{"--concurrency", "0"}, `invalid --concurrency (HOOKLINE_CONCURRENCY): got "0"; leave the flag out for its default, 1`},
		{"dispatcher", []string{"--max-buffered-bytes", "1000"}, "invalid --max-buffered-bytes (HOOKLINE_MAX_BUFFERED_BYTES): want at least 1 MiB, got 1000"},
		{"dispatcher", []string{"--fetch-partition-bytes", "5000000000"}, "invalid --fetch-partition-bytes (HOOKLINE_FETCH_PARTITION_BYTES): want 16 KiB to 64 MiB"},
		{"dispatcher", []string{"--max-queued", "-1"}, "invalid --max-queued (HOOKLINE_MAX_QUEUED): want at least 1, got -1"},
		{"dispatcher", []string{"--max-event-bytes", "100"}, "invalid --max-event-bytes (HOOKLINE_MAX_EVENT_BYTES): want 1 KiB to 8323070, got 100"},
		{"dispatcher", []string{"--queue-wait", "11s"}, "invalid --queue-wait (HOOKLINE_QUEUE_WAIT): want 1ms to 10s, got 11s"},
		{"dispatcher", []string{"--queue-wait", "0"}, `invalid --queue-wait (HOOKLINE_QUEUE_WAIT): got "0s"; leave the flag out for its default, 100ms`},
		{"dispatcher", []string{"--max-retry-after", "10ms"}, "invalid --max-retry-after (HOOKLINE_MAX_RETRY_AFTER): want at least 1s, got 10ms"},
		{"dispatcher", []string{"--header-prefix", "Hookline"}, `invalid --header-prefix (HOOKLINE_HEADER_PREFIX): want a header prefix like X-Acme, got "Hookline"`},
		{"dispatcher", []string{"--session-timeout", "100ms"}, "invalid --session-timeout (HOOKLINE_SESSION_TIMEOUT): want at least 1s, got 100ms"},
		{"dispatcher", []string{"--rebalance-timeout", "100ms"}, "invalid --rebalance-timeout (HOOKLINE_REBALANCE_TIMEOUT): want at least 1s (or 0 for half --session-timeout), got 100ms"},
		{"dispatcher", []string{"--group-protocol", "eager"}, `invalid --group-protocol (HOOKLINE_GROUP_PROTOCOL): want "classic" or "consumer", got "eager"`},
		{"dispatcher", []string{"--topic-prefix", ""}, "invalid --topic-prefix (HOOKLINE_TOPIC_PREFIX)"},
		{"retrier", []string{"--concurrency", "1025"}, "invalid --concurrency (HOOKLINE_CONCURRENCY): want 1-1024, got 1025"},
		{"retrier", []string{"--endpoint-concurrency", "20"}, "invalid --endpoint-concurrency (HOOKLINE_ENDPOINT_CONCURRENCY): want 0 (the default) to --concurrency (16), got 20"},
		{"retrier", []string{"--queue-wait", "500us"}, "invalid --queue-wait (HOOKLINE_QUEUE_WAIT): want 1ms to 10s, got 500µs"},
		{"dev", []string{"--retrier-endpoint-concurrency", "20"}, "invalid --retrier-endpoint-concurrency (HOOKLINE_RETRIER_ENDPOINT_CONCURRENCY): want 0 (the default) to --retrier-concurrency (16), got 20"},
		{"dev", []string{"--concurrency", "100"}, "invalid --concurrency (HOOKLINE_CONCURRENCY): want 1-64, got 100"},
		{"dev", []string{"--mark-linger", "-1ms"}, "invalid --mark-linger (HOOKLINE_MARK_LINGER): want 0 to 100ms, got -1ms"},
	} {
		if err := build(tc.cmd, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.cmd, tc.args, err, tc.want)
		}
	}
}

// TestAPISharedFlagsNeedNoQueueWait: the API has no --queue-wait, so its
// shared settings check without one.
func TestAPISharedFlagsNeedNoQueueWait(t *testing.T) {
	s, _, err := parseAPI(quietFlagSet("api"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.common(nil); err != nil {
		t.Fatalf("api's shared flags: %v", err)
	}
}
