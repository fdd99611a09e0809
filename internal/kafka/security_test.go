package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSecurityValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		sec   kafka.Security
		field string
	}{
		{kafka.Security{CertFile: "c.pem"}, "KeyFile"},
		{kafka.Security{KeyFile: "c.key"}, "CertFile"},
		{kafka.Security{SASLMechanism: "SCRAM-SHA-1"}, "SASLMechanism"},
		{kafka.Security{SASLMechanism: "scram-sha-512", SASLUser: "u", SASLPassword: "p"}, "SASLMechanism"},
		{kafka.Security{SASLMechanism: kafka.MechanismScramSHA512, SASLPassword: "p"}, "SASLUser"},
		{kafka.Security{SASLMechanism: kafka.MechanismPlain, SASLUser: "u"}, "SASLPasswordFile"},
		{kafka.Security{SASLMechanism: kafka.MechanismPlain, SASLUser: "u", SASLPassword: "p", SASLPasswordFile: "f"}, "SASLPasswordFile"},
		{kafka.Security{SASLMechanism: kafka.MechanismScramSHA256, SASLUser: "u", SASLPassword: "p", SASLTokenFile: "t"}, "SASLTokenFile"},
		{kafka.Security{SASLMechanism: kafka.MechanismOAuthBearer}, "SASLTokenFile"},
		{kafka.Security{SASLMechanism: kafka.MechanismOAuthBearer, SASLTokenFile: "t", SASLUser: "u"}, "SASLUser"},
		{kafka.Security{SASLMechanism: kafka.MechanismAWSMSKIAM}, "TLS"},
		{kafka.Security{SASLMechanism: kafka.MechanismAWSMSKIAM, TLS: true, SASLPasswordFile: "f"}, "SASLUser"},
		{kafka.Security{SASLUser: "u"}, "SASLUser"},
		{kafka.Security{SASLPassword: "p"}, "SASLPasswordFile"},
		{kafka.Security{SASLTokenFile: "t"}, "SASLTokenFile"},
		{kafka.Security{CAFile: "/nonexistent/ca.pem"}, "CAFile"}, // read by Opts
		{kafka.Security{SASLMechanism: kafka.MechanismPlain, SASLUser: "u", SASLPasswordFile: "/nonexistent/pw"}, "SASLPasswordFile"},
	} {
		_, err := tc.sec.Opts()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, kafka.ErrSecurity) {
			t.Errorf("%s: %v, want a FieldError of %s", tc.sec, err, tc.field)
		}
	}
	for _, ok := range []kafka.Security{
		{},
		{TLS: true},
		{SASLMechanism: kafka.MechanismScramSHA512, SASLUser: "u", SASLPassword: "p"},
		{SASLMechanism: kafka.MechanismAWSMSKIAM, TLS: true},
		{ServerName: "kafka.internal", SASLMechanism: kafka.MechanismOAuthBearer, SASLTokenFile: "t"},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestSecurityNeverShowsThePassword: String, %v, %+v and %#v, alone or
// inside a config, name where the password comes from, not the password.
func TestSecurityNeverShowsThePassword(t *testing.T) {
	const pw = "hunter2-not-for-logs"
	sec := kafka.Security{TLS: true, SASLMechanism: kafka.MechanismScramSHA512, SASLUser: "svc", SASLPassword: pw}
	type holder struct {
		Brokers  []string
		Security kafka.Security
	}
	h := holder{[]string{"b:9092"}, sec}
	for _, s := range []string{sec.String(), fmt.Sprint(sec), fmt.Sprintf("%+v", sec), fmt.Sprintf("%#v", sec),
		fmt.Sprintf("%v", h), fmt.Sprintf("%+v", h), fmt.Sprintf("%v", &h)} {
		if strings.Contains(s, pw) {
			t.Fatalf("password shown: %s", s)
		}
	}
	if s := sec.String(); !strings.Contains(s, "SASL SCRAM-SHA-512 over TLS") || !strings.Contains(s, `user "svc"`) || !strings.Contains(s, "password [redacted]") {
		t.Fatalf("String: %s", s)
	}
}

// TestCheckLetsInAndRefuses runs Check on each secure listener: the right
// settings get in; a wrong password and a CA that did not sign the
// broker's certificate are refused within CheckTimeout, naming the
// broker, the mechanism and what to check; so is mTLS without a client
// certificate.
func TestCheckLetsInAndRefuses(t *testing.T) {
	testbackend.ForEachSecureKafka(t, func(t *testing.T, k testbackend.SecureKafka) {
		ctx := context.Background()
		broker := k.Brokers[0]
		if err := kafka.Check(ctx, k.Brokers, k.Security); err != nil {
			t.Fatalf("%s: %v", k.Security, err)
		}
		refused := func(what string, sec kafka.Security, kind error, want ...string) {
			t.Helper()
			start := time.Now()
			err := kafka.Check(ctx, k.Brokers, sec)
			took := time.Since(start)
			if !errors.Is(err, kind) {
				t.Fatalf("%s: %v, want %v", what, err, kind)
			}
			if took >= kafka.CheckTimeout {
				t.Fatalf("%s: refused after %s, want within %s", what, took, kafka.CheckTimeout)
			}
			for _, w := range append(want, broker, sec.Name()) {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%s: %q does not say %q", what, err, w)
				}
			}
			t.Logf("%s (%s): %v", what, took.Round(time.Millisecond), err)
		}
		other := testbackend.NewCA(t, "untrusted")
		bad := k.Security
		bad.CAFile = other.CAFile
		refused("untrusted CA", bad, kafka.ErrTLS, "not trust", "CAFile")
		switch k.Listener {
		case testbackend.SASLSSL:
			bad := k.Security
			bad.SASLPasswordFile = testbackend.WriteSecret(t, "wrong", "not-the-password")
			refused("wrong password", bad, kafka.ErrAuth, "SCRAM-SHA-512", "refused", "SASLPasswordFile")
		case testbackend.MTLS:
			bad := k.Security
			bad.CertFile, bad.KeyFile = "", ""
			refused("no client certificate", bad, kafka.ErrTLS, "refused the TLS handshake", "CertFile")
		}
	})
}

// TestCheckUnreachableIsNotARefusal: a closed port is ErrUnreachable,
// which commands log and retry rather than stop on.
func TestCheckUnreachableIsNotARefusal(t *testing.T) {
	k := testbackend.NewFake(t)
	addr := k.Brokers[0]
	k.Fake.Close()
	err := kafka.Check(context.Background(), []string{addr}, kafka.Security{}, kgo.RetryTimeout(time.Second))
	if !errors.Is(err, kafka.ErrUnreachable) || errors.Is(err, kafka.ErrAuth) || errors.Is(err, kafka.ErrTLS) {
		t.Fatalf("closed port: %v", err)
	}
}
