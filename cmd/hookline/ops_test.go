package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const opsSecret = "whsec-ops-test-0123456789"

// scrape reads /metrics over HTTP.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample is the value of name's series with labels (a histogram's count,
// or with sum set its sum); -1 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string, sum bool) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
series:
	for _, s := range f.GetMetric() {
		for _, l := range s.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
				continue series
			}
		}
		switch {
		case s.Histogram != nil && sum:
			return s.GetHistogram().GetSampleSum()
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount())
		case s.Counter != nil:
			return s.GetCounter().GetValue()
		case s.Gauge != nil:
			return s.GetGauge().GetValue()
		}
	}
	return -1
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or 60 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOpsMetricsOfARunningPipeline runs a dispatcher and a retrier built
// by the commands' own wiring, sends 10 events to an endpoint that answers
// 2xx and 3 to one that always answers 500 (one retry tier of 300 ms, so
// they are dead-lettered), and checks the figures scraped from /metrics,
// and /readyz before the group is joined, when healthy and without Redis.
func TestOpsMetricsOfARunningPipeline(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		ctx := context.Background()
		name := testbackend.UniqueName(t)
		okRecv := testbackend.NewReceiver(t, "X-Hookline", opsSecret)
		badRecv := testbackend.NewReceiver(t, "X-Hookline", opsSecret)
		badRecv.SetStatus(func(int) int { return http.StatusInternalServerError })
		set, err := endpoints.NewSet(
			&endpoints.Endpoint{ID: "ep-ok", TenantID: "t-ok", URL: okRecv.URL() + "/hooks", Secrets: []string{opsSecret}, MaxItems: 1},
			&endpoints.Endpoint{ID: "ep-bad", TenantID: "t-bad", URL: badRecv.URL() + "/hooks", Secrets: []string{opsSecret}, MaxItems: 1},
		)
		if err != nil {
			t.Fatal(err)
		}

		// Redis through a proxy the test can cut.
		opt, err := redis.ParseURL(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testbackend.NewProxy(t, opt.Addr)
		opt.Addr, opt.MaxRetries = proxy.Addr(), -1
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		m := metrics.New()
		rdb.AddHook(m.RedisHook())

		events := b.Topic(t, 3)
		args := []string{"--brokers", strings.Join(b.Brokers, ","), "--topic-prefix", name + ".", "--retry-schedule", "300ms",
			"--allow-http", "--allow-networks", "127.0.0.0/8", "--session-timeout", "6s"}
		x := deps{endpoints: set, redis: rdb, log: zap.NewNop(), metrics: m}
		s, df, err := parseDispatcher(quietFlagSet("dispatcher"), append(args, "--events-topic", events, "--group", name+".disp"))
		if err != nil {
			t.Fatal(err)
		}
		dcfg, err := buildDispatcher(s, df, x)
		if err != nil {
			t.Fatal(err)
		}
		s, rf, err := parseRetrier(quietFlagSet("retrier"), append(args, "--group", name+".ret"))
		if err != nil {
			t.Fatal(err)
		}
		rcfg, err := buildRetrier(s, rf, x)
		if err != nil {
			t.Fatal(err)
		}
		tier := rcfg.Retry.Delay(0).String()
		disp, err := dispatcher.New(dcfg)
		if err != nil {
			t.Fatal(err)
		}
		ret, err := retrier.New(rcfg)
		if err != nil {
			t.Fatal(err)
		}
		m.WatchLag(b.Admin(t), 100*time.Millisecond)
		ops := startOps(opsFlags{addr: "127.0.0.1:0"}, m, allReady(disp.Ready, ret.Ready), zap.NewNop())
		t.Cleanup(ops.Stop)
		base := "http://" + ops.Addr()

		if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not joined") {
			t.Errorf("/readyz before Run: %d %q, want 503 naming the group not joined", code, body)
		}
		if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz: %d", code)
		}
		runBoth(t, disp, ret)
		eventually(t, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })

		prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: events})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = prod.Close(ctx) })
		publish := func(tenant string, n int) {
			for i := 0; i < n; i++ {
				ev := producer.Event{Type: "task.created", TenantID: tenant,
					Data: map[string]any{"task": map[string]any{"id": tenant + "-" + strconv.Itoa(i), "title": "Ducts"}}}
				if _, err := prod.Publish(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		publish("t-ok", 10)
		publish("t-bad", 3)
		okRecv.Delivered(t, 10, 30*time.Second)
		dead := b.ReadAll(t, rcfg.Topics.Dead, 3, 30*time.Second)
		if len(dead) != 3 {
			t.Fatalf("%d dead letters, want 3", len(dead))
		}
		var bodyBytes float64
		for _, r := range b.ReadAll(t, events, 13, 10*time.Second) {
			bodyBytes += float64(len(r.Value))
		}

		dg, rg := map[string]string{"group": name + ".disp"}, map[string]string{"group": name + ".ret"}
		lbl := func(kv ...string) map[string]string {
			out := map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				out[kv[i]] = kv[i+1]
			}
			return out
		}
		var fams map[string]*dto.MetricFamily
		eventually(t, "the dead letters counted and the lag gone", func() bool {
			fams = scrape(t, ops.Addr())
			return sample(fams, "hookline_deliveries_total", lbl("tier", tier, "outcome", "dead"), false) == 3 &&
				sample(fams, "hookline_consumer_lag", lbl("group", name+".disp", "topic", events), false) == 0 &&
				sample(fams, "hookline_retry_tier_depth", lbl("tier", tier), false) == 0 &&
				sample(fams, "hookline_buffered_bytes", dg, false) == 0 &&
				sample(fams, "hookline_paused_partitions", rg, false) == 0
		})
		for _, c := range []struct {
			name   string
			labels map[string]string
			sum    bool
			want   float64
		}{
			{"hookline_events_consumed_total", dg, false, 13},
			{"hookline_events_matched_total", dg, false, 13},
			{"hookline_events_invalid_total", dg, false, 0},
			{"hookline_attempts_total", lbl("tier", "dispatch", "code", "2xx"), false, 10},
			{"hookline_attempts_total", lbl("tier", "dispatch", "code", "5xx"), false, 3},
			{"hookline_attempts_total", lbl("tier", tier, "code", "5xx"), false, 3},
			{"hookline_attempts_total", lbl("tier", tier, "code", "2xx"), false, 0},
			{"hookline_attempt_duration_seconds", lbl("tier", "dispatch"), false, 13},
			{"hookline_attempt_duration_seconds", lbl("tier", tier), false, 3},
			{"hookline_deliveries_total", lbl("tier", "dispatch", "outcome", "delivered"), false, 10},
			{"hookline_deliveries_total", lbl("tier", "dispatch", "outcome", "retrying"), false, 3},
			{"hookline_deliveries_total", lbl("tier", "dispatch", "outcome", "dead"), false, 0},
			{"hookline_deliveries_total", lbl("tier", "dispatch", "outcome", "deferred"), false, 0},
			{"hookline_deliveries_total", lbl("tier", tier, "outcome", "delivered"), false, 0},
			{"hookline_deliveries_total", lbl("tier", tier, "outcome", "dead"), false, 3},
			{"hookline_dead_letters_total", lbl("tier", tier, "cause", "exhausted"), false, 3},
			{"hookline_dead_letters_total", lbl("tier", "dispatch", "cause", "rejected"), false, 0},
			{"hookline_batch_events", nil, false, 13},
			{"hookline_batch_events", nil, true, 13},
			{"hookline_batch_bytes", nil, true, bodyBytes},
			{"hookline_retry_due_lateness_seconds", lbl("tier", tier), false, 3},
			{"hookline_retry_held_records", rg, false, 0},
			{"hookline_consumer_lag", lbl("group", name+".ret", "topic", rcfg.Retry.Topic(0)), false, 0},
			{"hookline_redis_errors_total", nil, false, 0},
		} {
			if got := sample(fams, c.name, c.labels, c.sum); got != c.want {
				t.Errorf("%s%v (sum %v) = %v, want %v", c.name, c.labels, c.sum, got, c.want)
			}
		}

		proxy.Cut()
		eventually(t, "/readyz 503 without Redis", func() bool {
			code, body := get(t, base+"/readyz")
			return code == http.StatusServiceUnavailable && strings.Contains(body, "redis unreachable")
		})
		if got := sample(scrape(t, ops.Addr()), "hookline_redis_errors_total", nil, false); got < 1 {
			t.Errorf("hookline_redis_errors_total = %v with Redis cut, want at least 1", got)
		}
		if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz without Redis: %d, want 200 (alive)", code)
		}
		proxy.Restore()
		eventually(t, "/readyz 200 with Redis back", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
	})
}

// runBoth runs the dispatcher and the retrier until the test ends, then
// drains them.
func runBoth(t *testing.T, d *dispatcher.Dispatcher, r *retrier.Retrier) {
	errs := make(chan error, 2)
	go func() { errs <- d.Run(context.Background()) }()
	go func() { errs <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("dispatcher shutdown: %v", err)
		}
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("retrier shutdown: %v", err)
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	})
}

func TestOpsFlags(t *testing.T) {
	fs := quietFlagSet("dispatcher")
	s, d, err := parseDispatcher(fs, []string{"--ops-addr", "nonsense"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildDispatcher(s, d, deps{}); err == nil || !strings.Contains(err.Error(), "--ops-addr (HOOKLINE_OPS_ADDR)") {
		t.Errorf("build with --ops-addr nonsense: %v", err)
	}
	s, _, err = parseRetrier(quietFlagSet("retrier"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.ops.addr != DefaultOpsAddr {
		t.Errorf("default --ops-addr %q, want %q", s.ops.addr, DefaultOpsAddr)
	}
	// An address taken is logged and serves nothing; it stops no command.
	first := startOps(opsFlags{addr: "127.0.0.1:0"}, nil, nil, zap.NewNop())
	defer first.Stop()
	second := startOps(opsFlags{addr: first.Addr()}, nil, nil, zap.NewNop())
	defer second.Stop()
	if second.Addr() != "" {
		t.Errorf("second server on %s", second.Addr())
	}
	if code, body := get(t, "http://"+first.Addr()+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz without checks: %d %q", code, body)
	}
}
