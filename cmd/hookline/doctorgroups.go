package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// waitKind says how a group's oldest waiting record is judged.
type waitKind int

const (
	waitAge  waitKind = iota // by its age: events, the attempt log
	waitsDue                 // by its hl-due header: retry tiers wait on purpose until then
)

// groupCheck is one consumer group doctor looks at.
type groupCheck struct {
	group, who, command string
	topics              []string
	kind                waitKind
	optional            bool // the indexer runs only with the API's --index
}

func (f *doctorFlags) groups() []groupCheck {
	l := f.layout.names()
	t := l.Topics()
	return []groupCheck{
		{f.dispatcherGroup, "dispatchers", "hookline dispatcher", []string{t.Events}, waitAge, false},
		{f.retrierGroup, "retriers", "hookline retrier", append(l.Retry().Topics(), l.Retry().Lane()), waitsDue, false},
		{f.indexGroup, "indexers", "hookline api (--index)", []string{t.Attempts}, waitAge, true},
	}
}

// partLag is one partition's position and end.
type partLag struct {
	topic     string
	partition int32
	at, end   int64
}

// checkGroups reports each group's members and lag, and how long its
// oldest waiting record has waited: a lag that does not move shows there,
// whether the members are gone, paused or too few.
func checkGroups(ctx context.Context, f *doctorFlags, cl *kgo.Client, adm *kadm.Client) []finding {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var out []finding
	for _, g := range f.groups() {
		out = append(out, checkGroup(ctx, f, cl, adm, g)...)
	}
	return out
}

func checkGroup(ctx context.Context, f *doctorFlags, cl *kgo.Client, adm *kadm.Client, g groupCheck) []finding {
	subject := "group " + g.group
	described, err := adm.DescribeGroups(ctx, g.group)
	if err == nil {
		err = described.Error()
	}
	var dg kadm.DescribedGroup
	switch {
	case errors.Is(err, kerr.GroupIDNotFound): // Kafka 4 says so of a group never joined
	case err != nil:
		return []finding{{sevProblem, subject, fmt.Sprintf("cannot describe: %v", err), "grant this client Describe on the group"}}
	default:
		dg = described[g.group]
	}
	lags, err := groupLag(ctx, adm, g)
	if err != nil {
		return []finding{{sevProblem, subject, err.Error(), ""}}
	}
	var total int64
	parts := 0
	for _, l := range lags {
		total += l.end - l.at
		parts++
	}
	members := len(dg.Members)
	state := dg.State
	if state == "" || state == "Dead" {
		state = "no such group"
	}
	text := fmt.Sprintf("%s, %s on %s, lag %s", state, plural(members, g.who), plural(parts, "partitions"), plural(total, "records"))
	switch {
	case members == 0 && total > 0 && g.optional:
		return []finding{{sevWarn, subject, text + ": the delivery log and endpoint health fall behind", "run `" + g.command + "` (group " + g.group + ")"}}
	case members == 0 && total > 0:
		return []finding{{sevProblem, subject, text + ": nothing is consuming", "start `" + g.command + "` with --group " + g.group + " (and the same --topic-prefix)"}}
	case members == 0:
		return []finding{{sevWarn, subject, text + ": no member running", "start `" + g.command + "` if this pipeline should be delivering"}}
	}
	out := []finding{{sevOK, subject, text, ""}}
	if members > parts {
		out = append(out, finding{sevWarn, subject, fmt.Sprintf("%s for %s: %d stay idle", plural(members, g.who), plural(parts, "partitions"), members-parts),
			"run at most one member per partition, or add partitions (see `hookline topics describe`)"})
	}
	if total > f.maxLag {
		out = append(out, finding{sevWarn, subject, fmt.Sprintf("lag %s, over --max-lag %d", plural(total, "records"), f.maxLag),
			fmt.Sprintf("add %s up to one per partition (%d)", g.who, parts)})
	}
	return append(out, checkWaiting(ctx, f, cl, g, lags)...)
}

// groupLag reads the group's committed offsets against each partition's
// start and end; a partition without a commit is read from its start,
// as the members begin there.
func groupLag(ctx context.Context, adm *kadm.Client, g groupCheck) ([]partLag, error) {
	ends, err := adm.ListEndOffsets(ctx, g.topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", g.topics, err)
	}
	starts, err := adm.ListStartOffsets(ctx, g.topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %v: %w", g.topics, err)
	}
	commits, err := adm.FetchOffsets(ctx, g.group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("committed offsets: %w", err)
	}
	var out []partLag
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			return // a missing topic is reported by the layout check
		}
		at := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Err == nil {
			at = s.Offset
		}
		if c, ok := commits.Lookup(e.Topic, e.Partition); ok && c.Err == nil && c.At > at {
			at = c.At
		}
		out = append(out, partLag{e.Topic, e.Partition, min(at, e.Offset), e.Offset})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out, nil
}

// checkWaiting reads the record each lagging partition is waiting on and
// reports the worst: an event older than --max-event-age, or a retry
// later than --max-retry-lateness past its due time.
func checkWaiting(ctx context.Context, f *doctorFlags, cl *kgo.Client, g groupCheck, lags []partLag) []finding {
	heads, err := readHeads(ctx, cl, f.layout.kafka.opts, lags)
	if err != nil {
		return []finding{{sevWarn, "group " + g.group, fmt.Sprintf("could not read the oldest waiting records: %v", err), ""}}
	}
	now := time.Now()
	var worst time.Duration
	var where string
	for tp, r := range heads {
		wait := now.Sub(r.Timestamp)
		if g.kind == waitsDue {
			d, err := delivery.FromRecord(r)
			if err != nil || d.Due.IsZero() {
				continue
			}
			wait = now.Sub(d.Due)
		}
		if wait > worst {
			worst, where = wait, tp
		}
	}
	limit := f.maxEventAge
	if g.kind == waitsDue {
		limit = f.maxLateness
	}
	if worst <= limit {
		return nil
	}
	sev, text := sevProblem, fmt.Sprintf("the oldest waiting record on %s is %s old", where, worst.Round(time.Second))
	fix := fmt.Sprintf("the %s are behind or stuck: check they run and are ready (/readyz), their logs, and paused partitions on /metrics; add %s up to one per partition", g.who, g.who)
	if g.kind == waitsDue {
		text = fmt.Sprintf("a delivery on %s has waited %s past its due time", where, worst.Round(time.Second))
	}
	if g.optional {
		sev = sevWarn
	}
	return []finding{{sev, "group " + g.group, text, fix}}
}

// readHeads fetches the record at each lagging partition's position, with
// a client of cl's seeds and kopts (TLS, SASL).
func readHeads(ctx context.Context, cl *kgo.Client, kopts []kgo.Opt, lags []partLag) (map[string]*kgo.Record, error) {
	want := map[string]map[int32]kgo.Offset{}
	n := 0
	for _, l := range lags {
		if l.end > l.at {
			if want[l.topic] == nil {
				want[l.topic] = map[int32]kgo.Offset{}
			}
			want[l.topic][l.partition] = kgo.NewOffset().At(l.at)
			n++
		}
	}
	out := map[string]*kgo.Record{}
	if n == 0 {
		return out, nil
	}
	rd, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.ConsumePartitions(want)}, kopts...)...)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	for len(out) < n {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, nil // what arrived in time is judged
		}
		fs.EachRecord(func(r *kgo.Record) {
			tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if _, ok := out[tp]; !ok {
				out[tp] = r
			}
		})
		if errs := fs.Errors(); len(errs) > 0 {
			return out, errs[0].Err
		}
	}
	return out, nil
}

// checkRegistry reports the registry topic's size: every process reads
// it whole at start.
func checkRegistry(ctx context.Context, f *doctorFlags, adm *kadm.Client) []finding {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	topic := f.layout.names().Registry()
	subject := "registry " + topic
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	ends, err2 := adm.ListEndOffsets(ctx, topic)
	if err2 == nil {
		err2 = ends.Error()
	}
	if err = errors.Join(err, err2); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil // the layout check said it is missing
		}
		return []finding{{sevProblem, subject, fmt.Sprintf("cannot read offsets: %v", err), ""}}
	}
	var records int64
	ends.Each(func(e kadm.ListedOffset) {
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			records += e.Offset - s.Offset
		}
	})
	size := "size on disk unknown"
	if dirs, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{topic: {0: {}}}); err == nil {
		var bytes int64
		for _, b := range dirs {
			bytes += b.Size()
		}
		size = fmt.Sprintf("%.1f MiB on disk (all replicas)", float64(bytes)/(1<<20))
	}
	text := fmt.Sprintf("%s in the log, %s; every process reads it whole at start", plural(records, "records"), size)
	if records > 1_000_000 {
		return []finding{{sevWarn, subject, text, "check cleanup.policy=compact and that the log cleaner runs (segment.ms bounds how long old versions stay)"}}
	}
	return []finding{{sevOK, subject, text, ""}}
}

// plural counts things named in the plural ("partitions"), dropping the
// final s for one.
func plural[N int | int32 | int64](n N, things string) string {
	if n == 1 {
		things = strings.TrimSuffix(things, "s")
	}
	return fmt.Sprintf("%d %s", n, things)
}
