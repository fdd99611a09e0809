package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errProblems is returned by the checking commands when they found
// something wrong, after printing what.
var errProblems = errors.New("problems found")

func runTopics(ctx context.Context, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "create", "describe":
	default:
		fmt.Fprintf(os.Stderr, "usage: hookline topics create|describe [flags]\n\n  create    create the topics that are missing (raises max.message.bytes on existing ones)\n  describe  compare the topics that exist with what hookline expects\n")
		if sub == "" || isHelp(sub) {
			return helpOrUsage([]string{sub})
		}
		return fmt.Errorf("unknown subcommand %q: want create or describe", sub)
	}
	fs := newFlagSet("topics "+sub, "[--brokers LIST] [--partitions N] [--replication-factor N] ...")
	var f layoutFlags
	f.register(fs)
	timeout := fs.Duration("timeout", 30*time.Second, "give up when the cluster has not answered in this long")
	if err := fs.parse(args); err != nil {
		return err
	}
	if _, err := f.layout(1); err != nil { // flags first, before any connection
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	if err := f.kafka.connect(ctx, splitList(f.brokers), log); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(splitList(f.brokers)...)}, f.kafka.opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	rf, err := f.replicationFactor(ctx, adm)
	if err != nil {
		return kafkaUnreachable(f.brokers, err)
	}
	specs, err := f.layout(rf)
	if err != nil {
		return err
	}
	if sub == "create" {
		return createTopics(ctx, os.Stdout, adm, specs)
	}
	return describeTopics(ctx, os.Stdout, adm, specs)
}

// kafkaUnreachable words a failed first request to the cluster.
func kafkaUnreachable(brokers string, err error) error {
	return fmt.Errorf("kafka at %s did not answer (check --brokers / HOOKLINE_BROKERS and that the brokers run): %w", brokers, err)
}

// createTopics creates what is missing and reports on what exists; the
// existing ones get max.message.bytes raised where it is lower.
func createTopics(ctx context.Context, w io.Writer, adm *kadm.Client, specs []kafka.TopicSpec) error {
	var existing []string
	for _, s := range specs {
		cfg := make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			cfg[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.RF, cfg, s.Name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists):
			existing = append(existing, s.Name)
		case err != nil:
			return fmt.Errorf("create topic %s: %w", s.Name, err)
		default:
			fmt.Fprintf(w, "created  %s (%s): %s, replication %d, retention %s\n", s.Name, s.Role, plural(s.Partitions, "partitions"), s.RF, fmtRetention(s.Retention))
		}
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	if err := waitListed(ctx, adm, names); err != nil {
		return err
	}
	if len(existing) > 0 {
		if err := kafka.EnsureTopics(ctx, adm, -1, -1, existing...); err != nil {
			return err
		}
	}
	var fs []finding
	if len(existing) > 0 {
		state, err := readTopics(ctx, adm, existing)
		if err != nil {
			return err
		}
		for _, s := range specs {
			if st, ok := state[s.Name]; ok {
				fs = append(fs, checkTopic(s, st)...)
			}
		}
	}
	problems, _ := report(w, fs)
	if problems > 0 {
		return fmt.Errorf("%d existing topics differ from the layout: %w", problems, errProblems)
	}
	return nil
}

// waitListed waits until metadata lists every topic: a broker answers a
// create before every broker's metadata has the topic, and the checks
// that follow would call it missing.
func waitListed(ctx context.Context, adm *kadm.Client, names []string) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		td, err := adm.ListTopics(ctx, names...)
		if err == nil && td.Error() == nil && len(td) == len(names) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics created but not yet listed by the cluster (%v): %w", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// describeTopics prints each topic as it exists beside what is expected,
// then what differs.
func describeTopics(ctx context.Context, w io.Writer, adm *kadm.Client, specs []kafka.TopicSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	state, err := readTopics(ctx, adm, names)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tROLE\tPARTITIONS\tREPLICAS\tRETENTION\tCLEANUP\tMAX.MESSAGE.BYTES")
	var fs []finding
	for _, s := range specs {
		st := state[s.Name]
		fs = append(fs, checkTopic(s, st)...)
		want := fmt.Sprintf("%d", s.Partitions)
		if !st.Exists {
			fmt.Fprintf(tw, "%s\t%s\tmissing (want %s)\t- (want %d)\t- (want %s)\t- (want %s)\t- (want %s)\n",
				s.Name, s.Role, want, s.RF, fmtRetention(s.Retention), s.Configs["cleanup.policy"], s.Configs["max.message.bytes"])
			continue
		}
		ret := "broker default"
		if d, ok := retentionOf(st.Configs); ok {
			ret = fmtRetention(d)
		}
		if st.Configs["cleanup.policy"] == "compact" {
			ret = "compacted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Role,
			vs(fmt.Sprint(st.Partitions), want), vs(fmt.Sprint(st.RF), fmt.Sprint(s.RF)),
			vs(ret, fmtRetention(s.Retention)), vs(st.Configs["cleanup.policy"], s.Configs["cleanup.policy"]),
			vs(st.Configs["max.message.bytes"], s.Configs["max.message.bytes"]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var off []finding
	for _, f := range fs {
		if f.sev != sevOK {
			off = append(off, f)
		}
	}
	if len(off) == 0 {
		fmt.Fprintln(w, "every topic matches the layout")
		return nil
	}
	fmt.Fprintln(w)
	problems, _ := report(w, off)
	if problems > 0 {
		return fmt.Errorf("%d topic problems: %w", problems, errProblems)
	}
	return nil
}

// vs shows a value, and the expected one when it differs.
func vs(have, want string) string {
	if have == want || want == "" {
		return have
	}
	if have == "" {
		have = "-"
	}
	return have + " (want " + want + ")"
}
