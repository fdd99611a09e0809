package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// doctorFlags are what `hookline doctor` checks against: the topic layout
// (the same flags as `topics`), Redis, the groups and the thresholds past
// which a wait is a problem.
type doctorFlags struct {
	layout                                    layoutFlags
	redis                                     redisFlags
	dispatcherGroup, retrierGroup, indexGroup string
	maxEventAge, maxLateness                  time.Duration
	maxLag                                    int64
	timeout                                   time.Duration
}

func (f *doctorFlags) register(fs *flagSet) {
	f.layout.register(fs)
	f.redis.register(fs, "redis://127.0.0.1:6379/0", "Redis the dispatcher and retrier use")
	fs.StringVar(&f.dispatcherGroup, "group", "hookline-dispatcher", "consumer group of the dispatchers")
	fs.StringVar(&f.retrierGroup, "retrier-group", "hookline-retrier", "consumer group of the retriers")
	fs.StringVar(&f.indexGroup, "indexer-group", "hookline-indexer", "consumer group of the delivery-log indexer (hookline api --index)")
	fs.DurationVar(&f.maxEventAge, "max-event-age", 5*time.Minute, "an event waiting longer than this for the dispatchers is a problem")
	fs.DurationVar(&f.maxLateness, "max-retry-lateness", 5*time.Minute, "a retry still waiting this long after it was due is a problem")
	fs.Int64Var(&f.maxLag, "max-lag", 100000, "records a group may be behind before it is worth a warning")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long each check waits for Kafka or Redis")
}

func runDoctor(ctx context.Context, args []string) error {
	fs := newFlagSet("doctor", "[--brokers LIST] [--redis-url URL] [--topic-prefix P] ...")
	var f doctorFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if _, err := f.layout.layout(1); err != nil {
		return err
	}
	return doctor(ctx, os.Stdout, &f)
}

// doctor runs every check, prints its findings and returns errProblems
// when one of them is a problem.
func doctor(ctx context.Context, w io.Writer, f *doctorFlags) error {
	var all []finding
	add := func(fs ...finding) {
		report(w, fs)
		all = append(all, fs...)
	}
	add(checkRedis(ctx, f)...)
	cl, fs := connectKafka(ctx, f)
	add(fs...)
	if cl != nil {
		defer cl.Close()
		adm := kadm.NewClient(cl)
		add(checkLayout(ctx, f, adm)...)
		add(checkGroups(ctx, f, cl, adm)...)
		add(checkRegistry(ctx, f, adm)...)
	}
	problems, warnings := 0, 0
	for _, x := range all {
		switch x.sev {
		case sevProblem:
			problems++
		case sevWarn:
			warnings++
		}
	}
	fmt.Fprintf(w, "\n%s, %s\n", plural(problems, "problems"), plural(warnings, "warnings"))
	if problems > 0 {
		return fmt.Errorf("%s: %w", plural(problems, "problems"), errProblems)
	}
	return nil
}

// dialable says whether anything listens at addr, in the words of the
// failure: a refused port reads better than a request timing out.
func dialable(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// connectKafka checks the seed brokers answer and reports the cluster's
// brokers and version; the client is nil when Kafka cannot be used.
func connectKafka(ctx context.Context, f *doctorFlags) (*kgo.Client, []finding) {
	seeds := splitList(f.layout.brokers)
	var up []string
	var out []finding
	for _, s := range seeds {
		if err := dialable(ctx, s, f.timeout); err != nil {
			out = append(out, finding{sevProblem, "kafka " + s, fmt.Sprintf("unreachable: %v", err),
				"start the broker, or point --brokers (HOOKLINE_BROKERS) at a listener this host can reach"})
			continue
		}
		up = append(up, s)
	}
	if len(up) == 0 {
		return nil, append(out, finding{sevProblem, "kafka", "no seed broker reachable; topic, lag and registry checks skipped",
			"start Kafka or fix --brokers; until it is back, dispatchers and retriers stop consuming, producers' writes fail or wait, nothing committed is lost"})
	}
	if fs := checkKafkaSecurity(ctx, f, up); fs != nil {
		return nil, append(out, fs...)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(up...)}, f.layout.kafka.opts...)...)
	if err != nil {
		return nil, append(out, finding{sevProblem, "kafka", err.Error(), "fix --brokers (HOOKLINE_BROKERS)"})
	}
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	md, err := adm.BrokerMetadata(cctx)
	if err != nil {
		cl.Close()
		return nil, append(out, finding{sevProblem, "kafka", fmt.Sprintf("the port answers but not as Kafka: %v", err),
			"check --brokers names Kafka's client listener and that advertised.listeners is reachable from here"})
	}
	version := "version unknown"
	if vs, err := adm.ApiVersions(cctx); err == nil {
		var guesses []string
		for _, v := range vs.Sorted() {
			if v.Err == nil {
				guesses = append(guesses, v.VersionGuess())
			}
		}
		version = "Kafka " + strings.Join(dedupe(guesses), ", ")
	}
	text := fmt.Sprintf("%s (%s), controller %d", plural(len(md.Brokers), "brokers"), version, md.Controller)
	return cl, append(out, finding{sevOK, "kafka", text, ""})
}

// checkKafkaSecurity checks the Kafka security flags and that the
// reachable seeds let this client in with them, as every command does at
// its start: a refused password or certificate is reported with the
// broker, the mechanism and what to check. Nil when Kafka can be used.
func checkKafkaSecurity(ctx context.Context, f *doctorFlags, seeds []string) []finding {
	sec, err := f.layout.kafka.security()
	if err != nil {
		return []finding{{sevProblem, "kafka security", err.Error(), "fix the --kafka-* flags (HOOKLINE_KAFKA_*)"}}
	}
	if err := f.layout.kafka.connect(ctx, seeds, zap.NewNop()); err != nil {
		var ce *kafka.ConnectError
		if errors.As(err, &ce) {
			return []finding{{sevProblem, "kafka " + ce.Broker, fmt.Sprintf("%s: %s (%v)", sec.Name(), ce.Problem, ce.Err), "check " + ce.Check}}
		}
		return []finding{{sevProblem, "kafka security", err.Error(), "fix the --kafka-* flags (HOOKLINE_KAFKA_*)"}}
	}
	return nil
}

// checkLayout compares the topics with the layout of the same flags.
func checkLayout(ctx context.Context, f *doctorFlags, adm *kadm.Client) []finding {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	rf, err := f.layout.replicationFactor(ctx, adm)
	if err != nil {
		return []finding{{sevProblem, "topics", err.Error(), ""}}
	}
	specs, err := f.layout.layout(rf)
	if err != nil {
		return []finding{{sevProblem, "topics", err.Error(), ""}}
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	state, err := readTopics(ctx, adm, names)
	if err != nil {
		return []finding{{sevProblem, "topics", err.Error(), "grant this client Describe and DescribeConfigs on hookline's topics"}}
	}
	var out []finding
	for _, s := range specs {
		out = append(out, checkTopic(s, state[s.Name])...)
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
