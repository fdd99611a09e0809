package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// envKafkaPassword holds the SASL password when no file does. No flag
// takes the password itself: a command line is seen by every user of the
// host (ps) and kept in shell histories.
const envKafkaPassword = "HOOKLINE_KAFKA_SASL_PASSWORD"

// kafkaFlags are the Kafka security settings of every command that talks
// to Kafka: one set of flags, each also read from its HOOKLINE_ variable,
// read into a kafka.Security.
type kafkaFlags struct {
	sec        kafka.Security
	registered bool
	// opts are the client options of sec, once connect has checked them.
	opts []kgo.Opt
}

func (f *kafkaFlags) register(fs *flagSet) {
	f.registered = true
	fs.BoolVar(&f.sec.TLS, "kafka-tls", false, "dial the brokers with TLS, trusting the system's CAs unless --kafka-tls-ca-file (implied by any --kafka-tls-* flag)")
	fs.StringVar(&f.sec.CAFile, "kafka-tls-ca-file", "", "PEM bundle of the CAs that sign the brokers' certificates (default: the system's)")
	fs.StringVar(&f.sec.CertFile, "kafka-tls-cert-file", "", "PEM client certificate for a listener that wants one (mTLS), with --kafka-tls-key-file; read again at every TLS handshake")
	fs.StringVar(&f.sec.KeyFile, "kafka-tls-key-file", "", "PEM private key of --kafka-tls-cert-file")
	fs.StringVar(&f.sec.ServerName, "kafka-tls-server-name", "", "name the brokers' certificates must carry (default: the host dialled)")
	fs.StringVar(&f.sec.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: "+strings.Join(kafka.Mechanisms, ", ")+" (default: none)")
	fs.StringVar(&f.sec.SASLUser, "kafka-sasl-user", "", "SASL user of PLAIN and SCRAM")
	fs.StringVar(&f.sec.SASLPasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password (e.g. a mounted Secret), read at every authentication; or set "+envKafkaPassword)
	fs.StringVar(&f.sec.SASLTokenFile, "kafka-sasl-token-file", "", "file holding the OAUTHBEARER token, read at every authentication (so a renewed token is used)")
}

// kafkaSettings names the flag of each kafka.Security field; the password
// itself has a variable, no flag.
var kafkaSettings = settings{
	"TLS": "kafka-tls", "CAFile": "kafka-tls-ca-file", "CertFile": "kafka-tls-cert-file", "KeyFile": "kafka-tls-key-file",
	"ServerName": "kafka-tls-server-name", "SASLMechanism": "kafka-sasl-mechanism", "SASLUser": "kafka-sasl-user",
	"SASLPasswordFile": "kafka-sasl-password-file", "SASLTokenFile": "kafka-sasl-token-file",
}

// passwordField is kafka.Security's SASLPassword, which the commands
// fill from envKafkaPassword.
var passwordField = regexp.MustCompile(`\bSASLPassword\b`)

// kafkaWords puts the flags (and the password's variable) in place of
// the kafka.Security fields a reason or an advice names.
func kafkaWords(s string) string {
	s = passwordField.ReplaceAllString(s, envKafkaPassword)
	return fieldName.ReplaceAllStringFunc(s, func(w string) string {
		if f, ok := kafkaSettings.flag(w); ok {
			return "--" + f
		}
		return w
	})
}

// security is the flags' kafka.Security, its password from
// envKafkaPassword, checked; the zero value for a command that did not
// register the flags (dev, on its own broker).
func (f *kafkaFlags) security() (kafka.Security, error) {
	if !f.registered {
		return kafka.Security{}, nil
	}
	sec := f.sec
	sec.SASLPassword = os.Getenv(envKafkaPassword)
	if _, err := sec.Opts(); err != nil {
		return kafka.Security{}, f.flagError(err)
	}
	return sec, nil
}

// flagError reports a kafka.Security error in the command's words.
func (f *kafkaFlags) flagError(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		c := *fe
		c.Reason = passwordField.ReplaceAllString(fe.Reason, envKafkaPassword)
		err = &c
	}
	return kafkaSettings.flagError(err)
}

// connect checks the flags, then that brokers let this client in: a
// wrong password, an untrusted certificate or a listener of another
// security protocol ends the command with what to check, within
// kafka.CheckTimeout. Brokers that do not answer yet are only logged: the
// clients retry, as a command started before Kafka must. The client
// options of the flags are then in f.opts.
func (f *kafkaFlags) connect(ctx context.Context, brokers []string, log *zap.Logger) error {
	sec, err := f.security()
	if err != nil {
		return err
	}
	opts, err := sec.Opts()
	if err != nil {
		return f.flagError(err)
	}
	switch err := kafka.Check(ctx, brokers, sec); {
	case errors.Is(err, kafka.ErrUnreachable):
		log.Warn("kafka not reachable yet; the clients keep trying", zap.Stringer("security", sec), zap.Error(err))
	case err != nil:
		return kafkaError(err)
	default:
		log.Debug("kafka reachable", zap.Strings("brokers", brokers), zap.Stringer("security", sec))
	}
	f.opts = opts
	return nil
}

// kafkaError is a kafka.Check error with its advice in the command's
// words.
func kafkaError(err error) error {
	var ce *kafka.ConnectError
	if !errors.As(err, &ce) {
		return err
	}
	out := *ce
	out.Check = kafkaWords(ce.Check)
	return &out
}
