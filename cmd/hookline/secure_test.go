package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// securityArgs are the command-line flags of sec.
func securityArgs(sec kafka.Security) []string {
	var args []string
	add := func(flag, v string) {
		if v != "" {
			args = append(args, "--"+flag, v)
		}
	}
	add("kafka-tls-ca-file", sec.CAFile)
	add("kafka-tls-cert-file", sec.CertFile)
	add("kafka-tls-key-file", sec.KeyFile)
	add("kafka-sasl-mechanism", sec.SASLMechanism)
	add("kafka-sasl-user", sec.SASLUser)
	add("kafka-sasl-password-file", sec.SASLPasswordFile)
	return args
}

// secureRedis is real Redis on real Kafka when the environment names it,
// else an in-process one.
func secureRedis(t *testing.T, k testbackend.SecureKafka) (redis.UniversalClient, string) {
	if u := os.Getenv(testbackend.EnvRedis); u != "" && k.Name == "kafka" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb, u
	}
	rdb := testbackend.NewMiniredis(t)
	return rdb, "redis://" + rdb.Options().Addr + "/0"
}

// TestSecurePipelineSmoke runs the pipeline's smoke path over SASL
// SCRAM-SHA-512 on TLS and over mTLS: events published by the producer
// library, a dispatcher and a retrier built from the command line's
// --kafka-* flags, a receiver that fails each delivery's first POST, so
// that it goes through the first retry tier and is then delivered, once.
func TestSecurePipelineSmoke(t *testing.T) {
	testbackend.ForEachSecureKafka(t, func(t *testing.T, k testbackend.SecureKafka) {
		ctx := context.Background()
		const secret, n = "whsec-secure-smoke-0123456789", 3
		name := testbackend.UniqueName(t)
		recv := testbackend.NewReceiver(t, "X-Hookline", secret)
		recv.FailFirst(1, http.StatusInternalServerError, "")
		set, err := endpoints.NewSet(&endpoints.Endpoint{ID: "ep-secure", TenantID: "t-secure", URL: recv.URL() + "/hooks", Secrets: []string{secret}, MaxItems: 1})
		if err != nil {
			t.Fatal(err)
		}
		rdb, _ := secureRedis(t, k)
		events := k.Topic(t, 1)
		args := append([]string{"--brokers", strings.Join(k.Brokers, ","), "--topic-prefix", name + ".", "--retry-schedule", "300ms",
			"--allow-http", "--allow-networks", "127.0.0.0/8", "--session-timeout", "6s"}, securityArgs(k.Security)...)
		x := deps{endpoints: set, redis: rdb, log: zap.NewNop()}
		s, df, err := parseDispatcher(quietFlagSet("dispatcher"), append(args, "--events-topic", events, "--group", name+".disp"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.kafka.connect(ctx, k.Brokers, zap.NewNop()); err != nil {
			t.Fatalf("the command's start check: %v", err)
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
		if dcfg.Security != k.Security || rcfg.Security != k.Security {
			t.Fatalf("flags made %s and %s, want %s", dcfg.Security, rcfg.Security, k.Security)
		}
		disp, err := dispatcher.New(dcfg)
		if err != nil {
			t.Fatal(err)
		}
		ret, err := retrier.New(rcfg)
		if err != nil {
			t.Fatal(err)
		}
		runBoth(t, disp, ret)

		prod, err := producer.New(producer.Config{Brokers: k.Brokers, Security: k.Security, Topic: events})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = prod.Close(ctx) })
		for i := range n {
			ev := producer.Event{Type: "task.created", TenantID: "t-secure",
				Data: map[string]any{"task": map[string]any{"id": "task-" + strconv.Itoa(i), "title": "Ducts"}}}
			if _, err := prod.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		seen := recv.Delivered(t, n, 60*time.Second)
		for id, c := range seen {
			if c != 1 {
				t.Errorf("event %s delivered %d times", id, c)
			}
		}
		tier := k.ReadAll(t, rcfg.Retry.Topic(0), n, 30*time.Second)
		if len(tier) != n {
			t.Fatalf("%d deliveries in the retry tier %s, want %d", len(tier), rcfg.Retry.Topic(0), n)
		}
		posts, _ := recv.Snapshot()
		failed, ok := map[string]int{}, map[string]int{}
		for _, p := range posts {
			id := p.Header.Get("X-Hookline-Delivery")
			if p.Status/100 == 2 {
				ok[id]++
			} else {
				failed[id]++
			}
		}
		for id := range ok {
			if ok[id] != 1 || failed[id] != 1 {
				t.Errorf("delivery %s: %d failed then %d delivered, want 1 and 1", id, failed[id], ok[id])
			}
		}
		if len(ok) != n {
			t.Fatalf("%d deliveries got a 2xx, want %d", len(ok), n)
		}
		t.Logf("%s on %s (%s): %d events published, %d deliveries failed once, went through %s and were delivered once each",
			k.Listener, k.Name, k.Security.Name(), n, len(failed), rcfg.Retry.Topic(0))
	})
}

// TestSecureRefusalsEndCommandsWithWhatToCheck: a wrong password, a CA
// that did not sign the broker's certificate, or mTLS without a client
// certificate end `hookline dispatcher` within 10 s with a message that
// names the broker, the mechanism and the flag to check; `hookline
// doctor` reports the same.
func TestSecureRefusalsEndCommandsWithWhatToCheck(t *testing.T) {
	testbackend.ForEachSecureKafka(t, func(t *testing.T, k testbackend.SecureKafka) {
		untrusted := k.Security
		untrusted.CAFile = testbackend.NewCA(t, "untrusted").CAFile
		cases := []struct {
			what string
			sec  kafka.Security
			want []string
		}{{"untrusted CA", untrusted, []string{"does not trust", "--kafka-tls-ca-file"}}}
		switch k.Listener {
		case testbackend.SASLSSL:
			wrong := k.Security
			wrong.SASLPasswordFile = testbackend.WriteSecret(t, "wrong-password", "not-the-password")
			cases = append(cases, struct {
				what string
				sec  kafka.Security
				want []string
			}{"wrong password", wrong, []string{"SASL SCRAM-SHA-512 authentication refused", "--kafka-sasl-user", "--kafka-sasl-password-file"}})
		case testbackend.MTLS:
			noCert := k.Security
			noCert.CertFile, noCert.KeyFile = "", ""
			cases = append(cases, struct {
				what string
				sec  kafka.Security
				want []string
			}{"no client certificate", noCert, []string{"refused the TLS handshake", "--kafka-tls-cert-file"}})
		}
		_, redisURL := secureRedis(t, k)
		for _, c := range cases {
			want := append([]string{"kafka " + k.Brokers[0], c.sec.Name()}, c.want...)
			args := append([]string{"--brokers", k.Brokers[0], "--redis-url", redisURL, "--ops-addr", "", "--log-level", "error"}, securityArgs(c.sec)...)
			// Bounded, so that a dispatcher that starts (or hangs) fails
			// the test instead of running on.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			start := time.Now()
			err := runDispatcher(ctx, args)
			took := time.Since(start)
			cancel()
			if err == nil {
				t.Fatalf("%s: dispatcher started", c.what)
			}
			if took >= 10*time.Second {
				t.Fatalf("%s: dispatcher ended after %s, want within 10s", c.what, took)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%s: %q does not say %q", c.what, err, w)
				}
			}
			t.Logf("%s: hookline dispatcher ended in %s: %v", c.what, took.Round(time.Millisecond), err)

			var f doctorFlags
			fs := quietFlagSet("doctor")
			f.register(fs)
			if err := fs.parse(append([]string{"--brokers", k.Brokers[0], "--redis-url", redisURL}, securityArgs(c.sec)...)); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			start = time.Now()
			err = doctor(context.Background(), &out, &f)
			if !errors.Is(err, errProblems) || time.Since(start) >= 10*time.Second {
				t.Fatalf("%s: doctor %v after %s:\n%s", c.what, err, time.Since(start), &out)
			}
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("%s: doctor does not say %q:\n%s", c.what, w, &out)
				}
			}
			t.Logf("%s: hookline doctor:\n%s", c.what, &out)
		}
	})
}

// TestEveryKafkaCommandTakesTheSecurityFlags: each command that talks to
// Kafka reads the one set of --kafka-* flags and checks them before it
// does anything else with Kafka.
func TestEveryKafkaCommandTakesTheSecurityFlags(t *testing.T) {
	k := testbackend.NewFake(t)
	key, key2 := "ZGVtby1vbmx5LWtleS1yZXBsYWNlLW1lLTMyYnl0ZXM=", "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcyE="
	bad := []string{"--brokers", k.Brokers[0], "--kafka-sasl-mechanism", "SCRAM-SHA-1", "--log-level", "error"}
	const want = "invalid --kafka-sasl-mechanism (HOOKLINE_KAFKA_SASL_MECHANISM): want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM"
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"dispatcher", func() error { return runDispatcher(ctx, append(bad, "--ops-addr", "")) }},
		{"retrier", func() error { return runRetrier(ctx, append(bad, "--ops-addr", "")) }},
		{"api", func() error { return runAPI(ctx, append(bad, "--ops-addr", "", "--master-key", key)) }},
		{"produce", func() error { return runProduce(ctx, append(bad, "--type", "task.created", "--tenant", "t")) }},
		{"tail", func() error { return runTail(ctx, bad) }},
		{"replay", func() error { return runReplay(ctx, bad) }},
		{"topics", func() error { return runTopics(ctx, append([]string{"describe"}, bad...)) }},
		{"registry rekey", func() error {
			return runRegistry(ctx, append([]string{"rekey", "--master-key", key + "," + key2}, bad...))
		}},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", tc.name, err, want)
		}
	}
	var f doctorFlags
	fs := quietFlagSet("doctor")
	f.register(fs)
	if err := fs.parse(append(bad, "--redis-url", "redis://"+testbackend.NewMiniredis(t).Options().Addr)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := doctor(ctx, &out, &f); !errors.Is(err, errProblems) || !strings.Contains(out.String(), want) {
		t.Errorf("doctor: %v\n%s", err, &out)
	}
}
