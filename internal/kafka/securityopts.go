package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/hookline/hookline/internal/config"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Opts are the client options of s: a TLS dialer and a SASL mechanism,
// none for the zero value. It validates s and reads every file once, so
// that a missing or unreadable one is reported now, naming its setting;
// the SASL secrets and the client certificate are read again at every
// authentication and handshake.
func (s Security) Opts() ([]kgo.Opt, error) { return s.opts(nil) }

// opts is Opts with the SASL mechanism passed through wrap, when set.
func (s Security) opts(wrap func(sasl.Mechanism) sasl.Mechanism) ([]kgo.Opt, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if s.TLSOn() {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s.SASLMechanism != "" {
		m, err := s.mechanism()
		if err != nil {
			return nil, err
		}
		if wrap != nil {
			m = wrap(m)
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// tlsConfig trusts CAFile (or the system's roots) and presents the client
// certificate, re-read at every handshake.
func (s Security) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, config.Errorf(ErrSecurity, "CAFile", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.Errorf(ErrSecurity, "CAFile", "%s holds no PEM certificate", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" {
		if _, err := s.clientCert(); err != nil {
			return nil, err
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.clientCert()
		}
	}
	return tc, nil
}

func (s Security) clientCert() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, config.Errorf(ErrSecurity, "CertFile", "with KeyFile: %v", err)
	}
	return &c, nil
}

// mechanism is franz-go's implementation of s's SASL mechanism, fed from
// s's files at every authentication.
func (s Security) mechanism() (sasl.Mechanism, error) {
	switch s.SASLMechanism {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		if _, err := s.password(); err != nil {
			return nil, err
		}
		if s.SASLMechanism == MechanismPlain {
			return plain.Plain(func(context.Context) (plain.Auth, error) {
				p, err := s.password()
				return plain.Auth{User: s.SASLUser, Pass: p}, err
			}), nil
		}
		auth := func(context.Context) (scram.Auth, error) {
			p, err := s.password()
			return scram.Auth{User: s.SASLUser, Pass: p}, err
		}
		if s.SASLMechanism == MechanismScramSHA256 {
			return scram.Sha256(auth), nil
		}
		return scram.Sha512(auth), nil
	case MechanismOAuthBearer:
		if _, err := readSecret("SASLTokenFile", s.SASLTokenFile); err != nil {
			return nil, err
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			t, err := readSecret("SASLTokenFile", s.SASLTokenFile)
			return oauth.Auth{Token: t}, err
		}), nil
	case MechanismAWSMSKIAM:
		return awsIAM()
	}
	return nil, config.Errorf(ErrSecurity, "SASLMechanism", "want one of %s, got %q", strings.Join(Mechanisms, ", "), s.SASLMechanism)
}

// password is SASLPassword, or SASLPasswordFile's content.
func (s Security) password() (string, error) {
	if s.SASLPasswordFile == "" {
		return s.SASLPassword, nil
	}
	return readSecret("SASLPasswordFile", s.SASLPasswordFile)
}

// readSecret reads a secret file, without its trailing line break; an
// empty one is an error rather than an empty password.
func readSecret(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", config.Errorf(ErrSecurity, field, "%v", err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", config.Errorf(ErrSecurity, field, "%s is empty", path)
	}
	return v, nil
}

// awsUserAgent is the user agent MSK sees, which an IAM policy may match
// (aws:UserAgent).
const awsUserAgent = "hookline"

// errAWSCredentials marks an authentication that found no AWS
// credentials; Check names the chain in its advice.
var errAWSCredentials = errors.New("no AWS credentials")

// awsIAM is AWS_MSK_IAM with the AWS SDK's default credential chain: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), the shared config and credentials files
// (AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), web
// identity (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, as EKS sets
// for a service account's role), the ECS task role and the EC2 instance
// role. The SDK caches the credentials and renews them before they
// expire; each authentication takes the current ones. The region is the
// broker's, read by franz-go from its host name.
func awsIAM() (sasl.Mechanism, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, config.Errorf(ErrSecurity, "SASLMechanism", "%s: loading the AWS configuration: %v", MechanismAWSMSKIAM, err)
	}
	creds := cfg.Credentials
	if creds == nil {
		return nil, config.Errorf(ErrSecurity, "SASLMechanism", "%s: the AWS SDK found no credential provider", MechanismAWSMSKIAM)
	}
	return aws.ManagedStreamingIAM(func(ctx context.Context) (aws.Auth, error) {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return aws.Auth{}, fmt.Errorf("%w: %v", errAWSCredentials, err)
		}
		return aws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: awsUserAgent}, nil
	}), nil
}
