package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// severity ranks a finding: problems make `doctor` and `topics describe`
// exit non-zero; warnings are said but do not.
type severity int

const (
	sevOK severity = iota
	sevWarn
	sevProblem
)

func (s severity) String() string {
	return [...]string{"ok", "WARN", "FAIL"}[s]
}

// finding is one thing checked: what it is, what was found and, when
// something is off, what to do about it.
type finding struct {
	sev           severity
	subject, text string
	fix           string
}

// report prints findings one a line (the fix indented below) and
// returns how many were problems and warnings.
func report(w io.Writer, fs []finding) (problems, warnings int) {
	for _, f := range fs {
		fmt.Fprintf(w, "%-4s  %s: %s\n", f.sev, f.subject, f.text)
		if f.fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.fix)
		}
		switch f.sev {
		case sevProblem:
			problems++
		case sevWarn:
			warnings++
		}
	}
	return problems, warnings
}

// topicState is a topic as the cluster has it.
type topicState struct {
	Exists     bool
	Partitions int32
	RF         int16
	Configs    map[string]string
}

// readTopics describes the named topics; a missing one has Exists false.
func readTopics(ctx context.Context, adm *kadm.Client, names []string) (map[string]topicState, error) {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make(map[string]topicState, len(names))
	var existing []string
	for _, n := range names {
		d, ok := details[n]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			out[n] = topicState{}
			continue
		case d.Err != nil:
			return nil, fmt.Errorf("describe topic %s: %w", n, d.Err)
		}
		st := topicState{Exists: true, Partitions: int32(len(d.Partitions)), Configs: map[string]string{}}
		for _, p := range d.Partitions {
			if st.RF == 0 || int16(len(p.Replicas)) < st.RF {
				st.RF = int16(len(p.Replicas))
			}
		}
		out[n] = st
		existing = append(existing, n)
	}
	if len(existing) == 0 {
		return out, nil
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range cfgs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe topic %s configs: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Value != nil {
				out[rc.Name].Configs[c.Key] = *c.Value
			}
		}
	}
	return out, nil
}

// checkTopic compares a topic with its spec. A topic that matches gets one
// ok finding describing it.
func checkTopic(s kafka.TopicSpec, st topicState) []finding {
	subject := "topic " + s.Name
	if !st.Exists {
		return []finding{{sevProblem, subject, fmt.Sprintf("missing (%s)", s.Role),
			"run `hookline topics create` with the same --topic-prefix and --retry-schedule as the pipeline"}}
	}
	var out []finding
	add := func(sev severity, text, fix string) { out = append(out, finding{sev, subject, text, fix}) }
	switch {
	case s.ExactPartitions && st.Partitions != s.Partitions:
		add(sevProblem, fmt.Sprintf("%s; the %s needs exactly %d, so that its log orders every change", plural(st.Partitions, "partitions"), s.Role, s.Partitions),
			"create a compacted 1-partition topic under another --topic-prefix and reload the endpoints into it (--endpoints); Open refuses this one")
	case st.Partitions < s.Partitions:
		add(sevWarn, fmt.Sprintf("%s, the layout asks %d: at most %s share the %s", plural(st.Partitions, "partitions"), s.Partitions, plural(st.Partitions, "consumers"), s.Role),
			fmt.Sprintf("add partitions (kafka-topics --alter --topic %s --partitions %d) while the consumers are drained; keys move to new partitions", s.Name, s.Partitions))
	}
	if st.RF < s.RF {
		add(sevWarn, fmt.Sprintf("replication factor %d, the layout asks %d: losing one broker loses or stops this topic", st.RF, s.RF),
			"reassign the partitions to more brokers (kafka-reassign-partitions)")
	}
	policy := st.Configs["cleanup.policy"]
	wantPolicy := s.Configs["cleanup.policy"]
	switch {
	case wantPolicy == "compact" && policy != "compact":
		add(sevProblem, fmt.Sprintf("cleanup.policy=%s; the %s must be compacted, or retention deletes live endpoints", orUnset(policy), s.Role),
			fmt.Sprintf("kafka-configs --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", s.Name))
	case wantPolicy == "delete" && policy == "compact":
		add(sevProblem, fmt.Sprintf("cleanup.policy=compact drops all but the last record per key; the %s needs every record", s.Role),
			fmt.Sprintf("kafka-configs --alter --entity-type topics --entity-name %s --add-config cleanup.policy=delete", s.Name))
	}
	if v, ok := st.Configs["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n < kafka.MaxMessageBytes {
			add(sevProblem, fmt.Sprintf("max.message.bytes=%d refuses deliveries up to %d bytes", n, kafka.MaxMessageBytes),
				"run `hookline topics create`: it raises max.message.bytes on existing topics")
		}
	}
	ret, known := retentionOf(st.Configs)
	if wantPolicy == "delete" && known && ret >= 0 && ret < s.MinRetention {
		add(sevProblem, fmt.Sprintf("retention %s, under the %s the %s needs", fmtRetention(ret), fmtRetention(s.MinRetention), s.Role),
			fmt.Sprintf("kafka-configs --alter --entity-type topics --entity-name %s --add-config retention.ms=%d", s.Name, s.Retention.Milliseconds()))
	}
	if len(out) == 0 {
		retText := fmtRetention(ret)
		if wantPolicy == "compact" {
			retText = "compacted"
		} else if !known {
			retText = "broker default"
		}
		add(sevOK, fmt.Sprintf("%s, %s, replication %d, retention %s", s.Role, plural(st.Partitions, "partitions"), st.RF, retText), "")
	}
	return out
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}
