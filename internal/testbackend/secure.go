package testbackend

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"os"
	"testing"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Environment naming real Kafka's secure listeners and what gets in, as
// `deployments/local/kafka.sh secure-env` prints them.
const (
	// EnvKafkaSASLSSL is the SASL_SSL listener (SCRAM-SHA-512 over TLS).
	EnvKafkaSASLSSL = "HOOKLINE_TEST_KAFKA_SASL_SSL"
	// EnvKafkaMTLS is the SSL listener with ssl.client.auth=required.
	EnvKafkaMTLS = "HOOKLINE_TEST_KAFKA_MTLS"
	// EnvKafkaCAFile is the CA of both listeners' certificates.
	EnvKafkaCAFile = "HOOKLINE_TEST_KAFKA_CA_FILE"
	// EnvKafkaClientCertFile and EnvKafkaClientKeyFile are a client
	// certificate the mTLS listener trusts.
	EnvKafkaClientCertFile = "HOOKLINE_TEST_KAFKA_CLIENT_CERT_FILE"
	EnvKafkaClientKeyFile  = "HOOKLINE_TEST_KAFKA_CLIENT_KEY_FILE"
	// EnvKafkaSASLUser and EnvKafkaSASLPasswordFile are a SCRAM user of
	// the SASL_SSL listener.
	EnvKafkaSASLUser         = "HOOKLINE_TEST_KAFKA_SASL_USER"
	EnvKafkaSASLPasswordFile = "HOOKLINE_TEST_KAFKA_SASL_PASSWORD_FILE"
)

// Listener is a kind of secure listener.
type Listener string

// The secure listeners the suites run on.
const (
	// SASLSSL is SASL SCRAM-SHA-512 over TLS (MSK's SCRAM, a company's
	// own SASL_SSL cluster).
	SASLSSL Listener = "sasl_ssl"
	// MTLS is TLS with a client certificate and no SASL (Aiven).
	MTLS Listener = "mtls"
)

// SecureKafka is a Kafka backend behind a secure listener, with the
// Security that gets in (its clients, Kafka.Opts, use it).
type SecureKafka struct {
	Kafka
	Listener Listener
	Security kafka.Security
}

// ForEachSecureKafka runs fn per secure listener, then per backend:
// kfake always, with a CA, certificates and a SCRAM user of its own, and
// real Kafka when the environment names its listeners (EnvKafkaSASLSSL,
// EnvKafkaMTLS, with the files), so that the subtests read
// TestX/sasl_ssl/kafka and TestX/mtls/kafka.
func ForEachSecureKafka(t *testing.T, fn func(t *testing.T, k SecureKafka)) {
	t.Helper()
	for _, l := range []Listener{SASLSSL, MTLS} {
		t.Run(string(l), func(t *testing.T) {
			t.Run("kfake", func(t *testing.T) { fn(t, NewSecureFake(t, l)) })
			if addr := os.Getenv(listenerEnv(l)); addr != "" {
				t.Run("kafka", func(t *testing.T) { fn(t, realSecure(t, l, addr)) })
			}
		})
	}
}

func listenerEnv(l Listener) string {
	if l == SASLSSL {
		return EnvKafkaSASLSSL
	}
	return EnvKafkaMTLS
}

// NewSecureFake starts an in-process cluster behind listener l: TLS with
// a certificate of a CA made for the test, and SCRAM-SHA-512 (SASLSSL)
// or a required client certificate (MTLS).
func NewSecureFake(t testing.TB, l Listener) SecureKafka {
	t.Helper()
	ca := NewCA(t, "kfake")
	srv := ca.Server(t)
	tc := &tls.Config{Certificates: []tls.Certificate{srv.TLS}, MinVersion: tls.VersionTLS12}
	sec := kafka.Security{CAFile: ca.CAFile}
	var opts []kfake.Opt
	switch l {
	case SASLSSL:
		var b [12]byte
		_, _ = rand.Read(b[:])
		pw := hex.EncodeToString(b[:])
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(kafka.MechanismScramSHA512, "hookline", pw))
		sec.SASLMechanism, sec.SASLUser = kafka.MechanismScramSHA512, "hookline"
		sec.SASLPasswordFile = WriteSecret(t, "password", pw)
	case MTLS:
		tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool()
		c := ca.Client(t, "hookline-client")
		sec.CertFile, sec.KeyFile = c.CertFile, c.KeyFile
	}
	k := NewFake(t, append(opts, kfake.TLS(tc))...)
	return secure(t, k, l, sec)
}

// realSecure is real Kafka's listener l at addr, with the files the
// environment names.
func realSecure(t testing.TB, l Listener, addr string) SecureKafka {
	t.Helper()
	need := func(env string) string {
		v := os.Getenv(env)
		if v == "" {
			t.Fatalf("%s is set but %s is not: run `eval \"$(deployments/local/kafka.sh secure-env)\"`", listenerEnv(l), env)
		}
		return v
	}
	sec := kafka.Security{CAFile: need(EnvKafkaCAFile)}
	switch l {
	case SASLSSL:
		sec.SASLMechanism, sec.SASLUser = kafka.MechanismScramSHA512, need(EnvKafkaSASLUser)
		sec.SASLPasswordFile = need(EnvKafkaSASLPasswordFile)
	case MTLS:
		sec.CertFile, sec.KeyFile = need(EnvKafkaClientCertFile), need(EnvKafkaClientKeyFile)
	}
	return secure(t, Kafka{Name: "kafka", Brokers: []string{addr}}, l, sec)
}

func secure(t testing.TB, k Kafka, l Listener, sec kafka.Security) SecureKafka {
	t.Helper()
	opts, err := sec.Opts()
	if err != nil {
		t.Fatalf("%s on %s: %v", l, k.Name, err)
	}
	k.Opts = opts
	return SecureKafka{Kafka: k, Listener: l, Security: sec}
}
