package kafka

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hookline/hookline/internal/config"
)

// SASL mechanisms Security.SASLMechanism may name.
const (
	// MechanismPlain sends the user and password as they are: use it over
	// TLS only (Confluent Cloud's API keys are PLAIN users).
	MechanismPlain = "PLAIN"
	// MechanismScramSHA256 and MechanismScramSHA512 prove the password
	// without sending it (RFC 5802); MSK's and most self-run clusters'
	// SASL/SCRAM.
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	// MechanismOAuthBearer sends a bearer token (RFC 7628), read from
	// Security.SASLTokenFile at every authentication, so whatever renews
	// the file (a sidecar, a projected service-account token) renews it.
	MechanismOAuthBearer = "OAUTHBEARER"
	// MechanismAWSMSKIAM signs the authentication with AWS credentials
	// from the AWS SDK's default chain: the environment, the shared
	// config and credentials files (AWS_PROFILE), web identity (EKS IRSA),
	// the ECS or EC2 instance role. Amazon MSK's IAM listener (port 9098).
	MechanismAWSMSKIAM = "AWS_MSK_IAM"
)

// Mechanisms lists the SASL mechanisms Security supports.
var Mechanisms = []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512, MechanismOAuthBearer, MechanismAWSMSKIAM}

// ErrSecurity marks a Security setting that cannot work; the error is a
// *config.FieldError naming it.
var ErrSecurity = errors.New("kafka security")

// Security is how a client reaches brokers that want TLS or SASL. The
// zero value is plaintext without SASL, Kafka's PLAINTEXT listener.
// Secrets are read from files at every connection (and the password may
// also be given as a value, e.g. from the environment), so a rotated
// Secret is picked up without a restart; String never shows them.
type Security struct {
	// TLS dials the brokers with TLS 1.2 or newer. Default false; it is
	// implied by any of CAFile, CertFile, KeyFile and ServerName.
	TLS bool
	// CAFile is a PEM bundle of the CAs that may sign the brokers'
	// certificates. Default "": the system's roots (right for MSK,
	// Confluent Cloud and other public CAs).
	CAFile string
	// CertFile and KeyFile are this client's PEM certificate and key, for
	// a listener with ssl.client.auth=required (mTLS, e.g. Aiven). Both or
	// neither. Default "": no client certificate. They are read again at
	// every TLS handshake, so a renewed certificate is used without a
	// restart.
	CertFile, KeyFile string
	// ServerName is the name the brokers' certificates must carry.
	// Default "": the host of the address dialled.
	ServerName string
	// SASLMechanism is one of Mechanisms. Default "": no SASL.
	SASLMechanism string
	// SASLUser is the user of PLAIN and SCRAM. Required by them.
	SASLUser string
	// SASLPassword is the user's password, for callers that hold it
	// (hookline's commands take it from HOOKLINE_KAFKA_SASL_PASSWORD).
	// PLAIN and SCRAM need it or SASLPasswordFile, not both. Default "".
	SASLPassword string
	// SASLPasswordFile holds the password (a trailing newline is
	// ignored), read at every authentication. Default "".
	SASLPasswordFile string
	// SASLTokenFile holds OAUTHBEARER's token, read at every
	// authentication. Required by OAUTHBEARER.
	SASLTokenFile string
}

// TLSOn says whether the brokers are dialled with TLS.
func (s Security) TLSOn() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != ""
}

// Validate reports the setting at fault when s cannot work: an unknown
// mechanism, a mechanism without what it needs or given what it does not
// use, a certificate without its key. Files are read by Opts.
func (s Security) Validate() error {
	if (s.CertFile == "") != (s.KeyFile == "") {
		if s.CertFile == "" {
			return config.Errorf(ErrSecurity, "CertFile", "required with KeyFile: a client certificate needs both")
		}
		return config.Errorf(ErrSecurity, "KeyFile", "required with CertFile: a client certificate needs both")
	}
	passwords := s.SASLPassword != "" || s.SASLPasswordFile != ""
	switch s.SASLMechanism {
	case "":
		switch {
		case s.SASLUser != "":
			return config.Errorf(ErrSecurity, "SASLUser", "set but SASLMechanism is not: name one of %s", strings.Join(Mechanisms, ", "))
		case passwords:
			return config.Errorf(ErrSecurity, "SASLPasswordFile", "a password is set but SASLMechanism is not: name one of %s", strings.Join(Mechanisms, ", "))
		case s.SASLTokenFile != "":
			return config.Errorf(ErrSecurity, "SASLTokenFile", "set but SASLMechanism is not %s", MechanismOAuthBearer)
		}
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		switch {
		case s.SASLUser == "":
			return config.Errorf(ErrSecurity, "SASLUser", "required by %s", s.SASLMechanism)
		case s.SASLPassword != "" && s.SASLPasswordFile != "":
			return config.Errorf(ErrSecurity, "SASLPasswordFile", "and SASLPassword are both set: give the password one way")
		case !passwords:
			return config.Errorf(ErrSecurity, "SASLPasswordFile", "required by %s (or SASLPassword)", s.SASLMechanism)
		case s.SASLTokenFile != "":
			return config.Errorf(ErrSecurity, "SASLTokenFile", "is for %s, not %s", MechanismOAuthBearer, s.SASLMechanism)
		}
	case MechanismOAuthBearer:
		switch {
		case s.SASLTokenFile == "":
			return config.Errorf(ErrSecurity, "SASLTokenFile", "required by %s", MechanismOAuthBearer)
		case s.SASLUser != "" || passwords:
			return config.Errorf(ErrSecurity, "SASLUser", "and passwords are not used by %s: the token names the principal", MechanismOAuthBearer)
		}
	case MechanismAWSMSKIAM:
		switch {
		case s.SASLUser != "" || passwords || s.SASLTokenFile != "":
			return config.Errorf(ErrSecurity, "SASLUser", "and passwords are not used by %s: credentials come from the AWS SDK's default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, web identity, the instance role)", MechanismAWSMSKIAM)
		case !s.TLSOn():
			return config.Errorf(ErrSecurity, "TLS", "required by %s: MSK's IAM listener (port 9098) takes TLS only", MechanismAWSMSKIAM)
		}
	default:
		return config.Errorf(ErrSecurity, "SASLMechanism", "want one of %s, got %q", strings.Join(Mechanisms, ", "), s.SASLMechanism)
	}
	return nil
}

// Name is the security in a few words, as a message names it: "SASL
// SCRAM-SHA-512 over TLS", "TLS with a client certificate", "plaintext".
func (s Security) Name() string {
	var transport string
	switch {
	case s.CertFile != "":
		transport = "TLS with a client certificate"
	case s.TLSOn():
		transport = "TLS"
	default:
		transport = "plaintext"
	}
	if s.SASLMechanism == "" {
		return transport
	}
	return "SASL " + s.SASLMechanism + " over " + transport
}

// String describes s for logs: the mechanism, the user and where each
// secret comes from, never a secret itself.
func (s Security) String() string {
	parts := []string{s.Name()}
	if s.CAFile != "" {
		parts = append(parts, "CA "+s.CAFile)
	}
	if s.CertFile != "" {
		parts = append(parts, "client certificate "+s.CertFile+", key "+s.KeyFile)
	}
	if s.ServerName != "" {
		parts = append(parts, "server name "+s.ServerName)
	}
	if s.SASLUser != "" {
		parts = append(parts, fmt.Sprintf("user %q", s.SASLUser))
	}
	switch {
	case s.SASLPasswordFile != "":
		parts = append(parts, "password from "+s.SASLPasswordFile)
	case s.SASLPassword != "":
		parts = append(parts, "password [redacted]")
	}
	if s.SASLTokenFile != "" {
		parts = append(parts, "token from "+s.SASLTokenFile)
	}
	return strings.Join(parts, ", ")
}

// GoString is String, so that %#v shows no password either.
func (s Security) GoString() string { return "kafka.Security{" + s.String() + "}" }
