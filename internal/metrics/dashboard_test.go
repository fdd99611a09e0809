package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const dashboardFile = "../../deployments/grafana/hookline.json"

// TestDashboardQueriesNameExportedMetrics reads every PromQL expression
// of the Grafana dashboard and checks that each metric it names is one
// hookline exports, gathered from a Metrics whose every figure was
// touched.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	exported := exportedNames(t, touchedMetrics(t))
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs := 0
	used := map[string]bool{}
	for _, p := range flatten(dash.Panels) {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			names := metricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: %q names no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
				if !exported[n] {
					t.Errorf("panel %q: %q names %s, which hookline does not export", p.Title, tg.Expr, n)
				}
			}
		}
	}
	if exprs == 0 {
		t.Fatal("the dashboard has no queries")
	}
	// The figures the issue asks a dashboard of are all on it.
	for _, want := range []string{"hookline_events_consumed_total", "hookline_deliveries_total", "hookline_attempt_duration_seconds",
		"hookline_consumer_lag", "hookline_retry_tier_depth", "hookline_dead_letters_total", "hookline_mark_wait_seconds"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
	t.Logf("%d queries over %d metrics, all exported", exprs, len(used))
}

func TestMetricNamesOfAnExpression(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (le, tier) (rate(hookline_attempt_duration_seconds_bucket{tier!="dispatch", code=~"5.."}[$__rate_interval]))) / on (tier) group_left max without (instance) (up offset 5m)`)
	want := []string{"hookline_attempt_duration_seconds_bucket", "up"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a row's
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if len(p.Panels) > 0 {
			out = append(out, flatten(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?`)
	promKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true, "and": true, "or": true, "unless": true, "inf": true, "nan": true}
	promDurations = regexp.MustCompile(`^[0-9]`)
)

// metricNames returns the metric names an expression selects, in order:
// identifiers that are not functions, keywords, label names, strings,
// durations or dashboard variables.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = regexp.MustCompile(`\boffset\s+\S+`).ReplaceAllString(e, " ")
	var out []string
	for _, tok := range promIdent.FindAllString(e, -1) {
		if strings.HasPrefix(tok, "$") || strings.HasSuffix(tok, "(") || promKeywords[strings.ToLower(tok)] || promDurations.MatchString(tok) {
			continue
		}
		out = append(out, tok)
	}
	return out
}

// exportedNames are the sample names a scrape holds: a histogram's as
// _bucket, _sum and _count.
func exportedNames(t *testing.T, m *metrics.Metrics) map[string]bool {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		if len(f.GetMetric()) == 0 {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[n+"_sum"], out[n+"_count"], out[n] = true, true, true
		default:
			out[n] = true
		}
	}
	return out
}

// touchedMetrics is a Metrics with every figure holding a series: both
// views called, a Redis failure, and the lag of two groups on kfake.
func touchedMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	m := metrics.New()
	name := testbackend.UniqueName(t)
	pol := retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{time.Minute}}
	d := m.Dispatcher(name + ".disp")
	d.Consumed(1, 1, 1)
	d.Attempted(500, time.Millisecond)
	d.Settled("dead", "rejected", 1, 10)
	d.Buffered(1)
	d.Marked(time.Millisecond)
	d.MarkRound(2, time.Millisecond)
	d.KafkaError("fetch")
	r := m.Retrier(name+".ret", pol)
	r.Attempted(0, 200, time.Millisecond)
	r.Settled(0, "delivered", "", time.Millisecond)
	r.Held(1, 1)

	rdb := testbackend.NewMiniredis(t)
	rdb.AddHook(m.RedisHook())
	ctx := context.Background()
	_ = rdb.Set(ctx, "k", "v", 0).Err()
	if err := rdb.LPush(ctx, "k", "x").Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("LPUSH on a string: %v", err)
	}

	k := testbackend.NewFake(t)
	cl := k.Client(t)
	adm := kadm.NewClient(cl)
	events, tier := k.Topic(t, 1), pol.Topic(0)
	if resp, err := adm.CreateTopic(ctx, 1, -1, nil, tier); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", tier, err, resp.Err)
	}
	for group, topic := range map[string]string{name + ".disp": events, name + ".ret": tier} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		var o kadm.Offsets
		o.AddOffset(topic, 0, 0, -1)
		if _, err := adm.CommitOffsets(ctx, group, o); err != nil {
			t.Fatal(err)
		}
	}
	m.WatchLag(adm, time.Hour)
	return m
}
