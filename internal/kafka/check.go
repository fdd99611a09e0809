package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// What Check found wrong; each is wrapped in a *ConnectError.
var (
	// ErrAuth: the broker did not let the client in: SASL refused its
	// credentials or its mechanism, or closed the connection at its first
	// request (it wants TLS or SASL the client does not use).
	ErrAuth = errors.New("kafka authentication failed")
	// ErrTLS: the TLS handshake failed: the broker's certificate is not
	// trusted or not for its address, the broker refused the client's
	// certificate, or the port does not speak TLS.
	ErrTLS = errors.New("kafka TLS handshake failed")
	// ErrUnreachable: no answer (refused, timed out, or some failure that
	// may pass). Unlike the two above, retrying may help.
	ErrUnreachable = errors.New("kafka unreachable")
)

// CheckTimeout bounds Check.
const CheckTimeout = 10 * time.Second

// ConnectError is what Check says of a broker it could not use.
type ConnectError struct {
	// Broker is the address dialled.
	Broker string
	// Security is how, in Security.Name's words ("SASL SCRAM-SHA-512
	// over TLS").
	Security string
	// Problem says what went wrong; Check what to check, naming the
	// Security fields to look at as Security spells them.
	Problem, Check string
	// Kind is ErrAuth, ErrTLS or ErrUnreachable.
	Kind error
	// Err is the client's error.
	Err error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("kafka %s (%s): %s; check %s (%v)", e.Broker, e.Security, e.Problem, e.Check, e.Err)
}

// Unwrap makes errors.Is hold for Kind and for the client's error.
func (e *ConnectError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Check connects to each seed broker in turn with s and opts (a dialer,
// say) until one answers a metadata request, within CheckTimeout. It
// returns nil once one does, else a *ConnectError for the first seed that
// refused s (ErrAuth, ErrTLS), or, when none could be reached, those of
// each seed joined (ErrUnreachable). A wrong password or an untrusted
// certificate is refused at once, not retried.
func Check(ctx context.Context, brokers []string, s Security, opts ...kgo.Opt) error {
	var auth saslTrack
	sec, err := s.opts(auth.wrap)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	var unreachable []error
	for _, b := range brokers {
		auth.reset()
		err := checkBroker(ctx, b, append(append([]kgo.Opt{}, opts...), sec...))
		if err == nil {
			return nil
		}
		if auth.cut() && cutShort(err) {
			// Some brokers (and kfake) close the connection on bad
			// credentials instead of answering with an error code.
			err = fmt.Errorf("%w: %w", errSASLCut, err)
		}
		ce := s.explain(b, err)
		if !errors.Is(ce, ErrUnreachable) {
			return ce
		}
		unreachable = append(unreachable, ce)
	}
	return errors.Join(unreachable...)
}

func checkBroker(ctx context.Context, broker string, opts []kgo.Opt) error {
	// A few retries ride out a broker's blip; more would only delay the
	// answer for a listener that keeps closing the connection.
	base := []kgo.Opt{kgo.SeedBrokers(broker), kgo.RequestRetries(checkRetries)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: only the brokers
	_, err = cl.Request(ctx, req)
	return err
}

// explain words err, a failed request to broker, in terms of s.
func (s Security) explain(broker string, err error) *ConnectError {
	e := &ConnectError{Broker: broker, Security: s.Name(), Err: err, Kind: ErrUnreachable}
	mech := s.SASLMechanism
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		recordHdr   tls.RecordHeaderError
		firstRead   *kgo.ErrFirstReadEOF
		opErr       *net.OpError
		certVerify  *tls.CertificateVerificationError
		alertRemote = errors.As(err, &opErr) && opErr.Op == "remote error"
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, errAWSCredentials) || errors.Is(err, errSASLCut):
		e.Kind, e.Problem = ErrAuth, "SASL "+mech+" authentication refused"
		if s.SASLUser != "" {
			e.Problem += fmt.Sprintf(" for user %q", s.SASLUser)
		}
		e.Check = s.credentialsCheck()
	case errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.IllegalSaslState):
		e.Kind, e.Problem = ErrAuth, "the listener does not take SASL "+mech
		e.Check = "SASLMechanism against the listener's sasl.enabled.mechanisms, and that the address is the SASL listener's"
	case errors.As(err, &unknownCA):
		e.Kind, e.Problem = ErrTLS, "the broker's certificate is signed by a CA this client does not trust"
		e.Check = s.caCheck()
	case errors.As(err, &hostname):
		e.Kind, e.Problem = ErrTLS, "the broker's certificate is not for this address"
		e.Check = "the broker address matches the names in its certificate (" + certNames(hostname.Certificate) + "), or set ServerName to one of them"
	case errors.As(err, &invalid), errors.As(err, &certVerify):
		e.Kind, e.Problem = ErrTLS, "the broker's certificate does not verify"
		e.Check = "its validity dates and key usage, and " + s.caCheck()
	case alertRemote:
		e.Kind, e.Problem = ErrTLS, "the broker refused the TLS handshake ("+opErr.Err.Error()+")"
		e.Check = s.clientCertCheck()
	case errors.As(err, &recordHdr):
		e.Kind, e.Problem = ErrTLS, "the port does not speak TLS"
		e.Check = "the address is the listener's that takes TLS (SSL or SASL_SSL), or leave TLS off for a PLAINTEXT or SASL_PLAINTEXT one"
	case strings.Contains(err.Error(), tlsAlertHint):
		e.Kind, e.Problem = ErrTLS, "the listener speaks TLS and this client does not"
		e.Check = "TLS: set it (with CAFile when the brokers' CA is a private one) for an SSL or SASL_SSL listener"
	case errors.As(err, &firstRead):
		e.Kind, e.Problem = ErrAuth, "the broker closed the connection at once"
		e.Check = s.listenerCheck()
	case errors.Is(err, context.DeadlineExceeded):
		e.Problem = fmt.Sprintf("no answer within %s", CheckTimeout)
		e.Check = "the address and that this host can reach it; a TLS listener dialled without TLS can also wait like this: " + s.listenerCheck()
	default:
		e.Problem = "unreachable"
		e.Check = "the address and port, and that this host can reach the listener"
	}
	return e
}

func (s Security) credentialsCheck() string {
	switch s.SASLMechanism {
	case MechanismOAuthBearer:
		return "the token in SASLTokenFile is current (not expired) and one the listener's validator accepts"
	case MechanismAWSMSKIAM:
		return "the AWS credentials of the default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, web identity, the instance role) and that their IAM policy allows kafka-cluster:Connect on this cluster"
	}
	return "SASLUser and its password (SASLPasswordFile or SASLPassword), and that the cluster has the user with " + s.SASLMechanism + " credentials"
}

func (s Security) caCheck() string {
	if s.CAFile == "" {
		return "the brokers' CA: the system's roots do not hold it, so set CAFile to the CA bundle that signed the brokers' certificates"
	}
	return "CAFile is the CA bundle that signed the brokers' certificates"
}

func (s Security) clientCertCheck() string {
	if s.CertFile == "" {
		return "whether the listener wants a client certificate (ssl.client.auth=required): give CertFile and KeyFile"
	}
	return "CertFile and KeyFile: the certificate must be signed by a CA in the listener's ssl.truststore, and not be expired"
}

// tlsAlertHint is how franz-go words a TLS alert read by a plaintext
// client (it has no error type for it).
const tlsAlertHint = "plaintext connection speaking to a tls endpoint"

// certNames lists the names and addresses a certificate is for.
func certNames(c *x509.Certificate) string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, ", ")
}

// listenerCheck is what to check when the listener wants another
// security than s.
func (s Security) listenerCheck() string {
	switch {
	case !s.TLSOn() && s.SASLMechanism == "":
		return "the listener's security protocol: it may want TLS (set TLS) or SASL (set SASLMechanism)"
	case s.SASLMechanism == "":
		return "the listener's security protocol: it may not speak TLS (leave TLS off), or want SASL (set SASLMechanism)"
	case !s.TLSOn():
		return "the listener's security protocol: it may want TLS (set TLS) besides SASL"
	}
	return "the listener's security protocol (it may not speak TLS, or not take SASL) against TLS and SASLMechanism"
}

// checkRetries is how often Check retries a request.
const checkRetries = 3

// errSASLCut marks a connection the broker closed while SASL was under
// way: a refusal of the credentials by a broker that gives no error code.
var errSASLCut = errors.New("the broker closed the connection during SASL authentication")

// cutShort says err is the connection ending, not an answer.
func cutShort(err error) bool {
	var firstRead *kgo.ErrFirstReadEOF
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &firstRead)
}

// saslTrack counts the SASL authentications begun and completed through
// its mechanisms, to tell a connection cut during one.
type saslTrack struct{ begun, done atomic.Int32 }

func (t *saslTrack) reset() { t.begun.Store(0); t.done.Store(0) }

// cut says an authentication began and none completed.
func (t *saslTrack) cut() bool { return t.begun.Load() > 0 && t.done.Load() == 0 }

func (t *saslTrack) wrap(m sasl.Mechanism) sasl.Mechanism { return trackedMechanism{m, t} }

type trackedMechanism struct {
	sasl.Mechanism
	t *saslTrack
}

func (m trackedMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	m.t.begun.Add(1)
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return trackedSession{s, m.t}, first, nil
}

type trackedSession struct {
	sasl.Session
	t *saslTrack
}

func (s trackedSession) Challenge(resp []byte) (bool, []byte, error) {
	done, next, err := s.Session.Challenge(resp)
	if done && err == nil {
		s.t.done.Add(1)
	}
	return done, next, err
}
