package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/redis/go-redis/v9"
)

// Defaults of Config's timeouts.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
)

// NewClient validates c, reads its files once (so that a missing one is
// reported now, naming its setting) and returns the client of its
// topology: a *redis.Client for Single and Sentinel (a failover client,
// which asks the sentinels for the master and follows its failovers), a
// *redis.ClusterClient for Cluster. Password files are read again at
// every new connection; the client certificate at every handshake.
func NewClient(c Config) (redis.UniversalClient, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, _ := parse(c.URL, c.Cluster)
	var tc *tls.Config
	if t.tls {
		var err error
		if tc, err = c.tlsConfig(); err != nil {
			return nil, err
		}
	}
	creds, err := credentials(t.user, firstOf(c.Password, t.password), c.PasswordFile, "PasswordFile")
	if err != nil {
		return nil, err
	}
	dial, read, write := orDefault(c.DialTimeout, DefaultDialTimeout), orDefault(c.ReadTimeout, DefaultReadTimeout), orDefault(c.WriteTimeout, DefaultWriteTimeout)
	switch t.topology {
	case Sentinel:
		sentinelCreds, err := credentials(c.SentinelUser, c.SentinelPassword, c.SentinelPasswordFile, "SentinelPasswordFile")
		if err != nil {
			return nil, err
		}
		su, sp := sentinelCreds(context.Background())
		o := &redis.FailoverOptions{
			MasterName: t.master, SentinelAddrs: t.addrs, DB: t.db, Protocol: t.protocol, TLSConfig: tc,
			// The sentinels' password is read once: a sentinel connection
			// lives as long as the client.
			SentinelUsername: su, SentinelPassword: sp,
			CredentialsProviderContext: providerContext(creds),
			DialTimeout:                dial, ReadTimeout: read, WriteTimeout: write, MaxRetries: c.MaxRetries,
		}
		return redis.NewFailoverClient(o), nil
	case Cluster:
		if tc != nil && tc.ServerName == "" {
			// The nodes are dialled at the addresses the cluster gives,
			// often IPs; managed clusters' certificates name the seed
			// (ElastiCache's configuration endpoint).
			if h, _, _ := net.SplitHostPort(t.addrs[0]); net.ParseIP(h) == nil {
				tc.ServerName = h
			}
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: t.addrs, Protocol: t.protocol, TLSConfig: tc, CredentialsProviderContext: providerContext(creds),
			DialTimeout: dial, ReadTimeout: read, WriteTimeout: write, MaxRetries: c.MaxRetries,
		}), nil
	}
	return redis.NewClient(&redis.Options{
		Addr: t.addrs[0], DB: t.db, Protocol: t.protocol, TLSConfig: tc, CredentialsProviderContext: providerContext(creds),
		DialTimeout: dial, ReadTimeout: read, WriteTimeout: write, MaxRetries: c.MaxRetries,
	}), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sentinelOptions are the options of a client of one sentinel (Addr
// unset), for asking it directly.
func sentinelOptions(c Config, t target) (*redis.Options, error) {
	o := &redis.Options{Protocol: t.protocol, DialTimeout: orDefault(c.DialTimeout, DefaultDialTimeout),
		ReadTimeout: orDefault(c.ReadTimeout, DefaultReadTimeout), WriteTimeout: orDefault(c.WriteTimeout, DefaultWriteTimeout), MaxRetries: -1}
	if t.tls {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		o.TLSConfig = tc
	}
	creds, err := credentials(c.SentinelUser, c.SentinelPassword, c.SentinelPasswordFile, "SentinelPasswordFile")
	if err != nil {
		return nil, err
	}
	o.CredentialsProviderContext = providerContext(creds)
	return o, nil
}

// credentials returns the user and the password, read from file (when
// set) at every call. The file is read once now, so that a missing one
// is reported at start, naming field.
func credentials(user, password, file, field string) (func(context.Context) (string, string), error) {
	if file == "" {
		return func(context.Context) (string, string) { return user, password }, nil
	}
	if _, err := readSecret(file); err != nil {
		return nil, config.Errorf(ErrConfig, field, "%v", err)
	}
	return func(context.Context) (string, string) {
		pw, err := readSecret(file)
		if err != nil {
			// The server refuses the empty password, naming AUTH; the
			// file is back by the next connection.
			return user, ""
		}
		return user, pw
	}, nil
}

func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// providerContext adapts creds to the client's hook; nil when there is
// nothing to send, so a server without AUTH is not sent one.
func providerContext(creds func(context.Context) (string, string)) func(context.Context) (string, string, error) {
	if u, p := creds(context.Background()); u == "" && p == "" {
		return nil
	}
	return func(ctx context.Context) (string, string, error) {
		u, p := creds(ctx)
		return u, p, nil
	}
}

// tlsConfig trusts CAFile (or the system's roots) and presents the client
// certificate, re-read at every handshake.
func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, config.Errorf(ErrConfig, "CAFile", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.Errorf(ErrConfig, "CAFile", "%s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		load := func() (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, config.Errorf(ErrConfig, "CertFile", "%v", err)
			}
			return &cert, nil
		}
		if _, err := load(); err != nil {
			return nil, err
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return load() }
	}
	return tc, nil
}
