// Package redisconn is how every hookline process reaches Redis: one
// server, a master found through Sentinel, or a Redis Cluster, chosen by
// the URL (or Config.Cluster), with TLS and ACL users, passwords read
// from files or given as values and never shown. Every command builds its
// client here, so the three topologies work the same for all of them.
//
// Whatever the topology, each Lua script, transaction and multi-key
// command of hookline touches keys of one hash slot (the part of a key
// in braces, e.g. "hookline:dl:{tenant}:wm"), so it runs unchanged on a
// cluster.
package redisconn

import (
	"errors"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/config"
)

// ErrConfig marks a Config that cannot work; the error is a
// *config.FieldError naming the setting.
var ErrConfig = errors.New("redis")

// Topology is how the servers are laid out.
type Topology string

// The topologies a URL can name.
const (
	// Single is one server (or a managed endpoint that fails over behind
	// one address, e.g. ElastiCache's primary endpoint).
	Single Topology = "single"
	// Sentinel is a master found by asking Redis Sentinels, followed
	// through failovers.
	Sentinel Topology = "sentinel"
	// Cluster is Redis Cluster: keys spread over masters by hash slot.
	Cluster Topology = "cluster"
)

// Schemes of Config.URL; a trailing "s" on "redis" (rediss, rediss+sentinel,
// rediss+cluster) dials with TLS.
const (
	SchemeSingle   = "redis"
	SchemeSentinel = "redis+sentinel"
	SchemeCluster  = "redis+cluster"
)

// Config is how a process reaches Redis. The zero value is not usable:
// URL is required.
type Config struct {
	// URL names the topology, the servers and the user:
	//
	//	redis://[user[:password]@]host[:port][/db]          one server
	//	redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db]
	//	redis+cluster://[user[:password]@]host[:port][,host[:port]...]
	//
	// "rediss" in place of "redis" dials every server with TLS. The
	// port defaults to 6379 (26379 for sentinels), the db to 0 (a cluster
	// has only db 0). The user and password are the data servers' (an
	// ACL user; the password alone is requirepass); the query may set
	// protocol=3 (default RESP2: hookline uses no RESP3 feature, and on
	// RESP3 the client checks for push notifications before every
	// command). Required.
	URL string
	// Cluster takes a redis:// or rediss:// URL as a seed of a Redis
	// Cluster (a configuration endpoint, e.g. ElastiCache's
	// clustercfg.* or Memorystore's discovery address). Default false.
	Cluster bool
	// Password is the data servers' password, for callers that hold it
	// (hookline's commands take it from HOOKLINE_REDIS_PASSWORD). At most
	// one of the URL's password, Password and PasswordFile. Default "".
	Password string
	// PasswordFile holds the data servers' password (a trailing newline
	// is ignored), read at every new connection, so a rotated Secret is
	// used without a restart. Default "".
	PasswordFile string
	// SentinelPassword and SentinelPasswordFile are the sentinels' own
	// password (their requirepass), given as PasswordFile and Password
	// are; SentinelUser its ACL user. Sentinel only. Default "": the
	// sentinels take no AUTH.
	SentinelUser, SentinelPassword, SentinelPasswordFile string
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates. Default "": the system's roots (right for
	// ElastiCache; Memorystore's server CA must be given here).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that want one (tls-auth-clients yes). Both or neither.
	// Default "": none.
	CertFile, KeyFile string
	// ServerName is the name the servers' certificates must carry.
	// Default "": the host dialled.
	ServerName string
	// DialTimeout bounds a connection's dial and handshake. Default 5 s.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound one command's reply and
	// sending. Default 3 s each.
	ReadTimeout, WriteTimeout time.Duration
	// MaxRetries is how often the client retries a failed command itself
	// (-1: never; hookline retries with back-off around it). Default 0:
	// the client's 3.
	MaxRetries int
}

// tlsFiles says whether a TLS setting is given.
func (c Config) tlsFiles() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != ""
}

// Validate reports the setting at fault when c cannot work: a URL that
// does not parse or names no server, a db on a cluster, a password given
// twice, TLS files on a URL without TLS, a certificate without its key,
// a negative timeout. Files are read by NewClient.
func (c Config) Validate() error {
	t, err := parse(c.URL, c.Cluster)
	if err != nil {
		return err
	}
	pw := 0
	for _, given := range []bool{t.password != "", c.Password != "", c.PasswordFile != ""} {
		if given {
			pw++
		}
	}
	switch {
	case pw > 1:
		return config.Errorf(ErrConfig, "PasswordFile", "more than one of the URL's password, Password and PasswordFile is set: give the password one way")
	case c.SentinelPassword != "" && c.SentinelPasswordFile != "":
		return config.Errorf(ErrConfig, "SentinelPasswordFile", "and SentinelPassword are both set: give the password one way")
	case t.topology != Sentinel && (c.SentinelUser != "" || c.SentinelPassword != "" || c.SentinelPasswordFile != ""):
		return config.Errorf(ErrConfig, "SentinelPasswordFile", "set, but the URL names no Sentinel (%s://...)", SchemeSentinel)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return config.Errorf(ErrConfig, "CertFile", "and KeyFile: a client certificate needs both")
	case c.tlsFiles() && !t.tls:
		return config.Errorf(ErrConfig, "CAFile", "a TLS setting is given but the URL dials without TLS: write rediss:// (or rediss+sentinel://, rediss+cluster://)")
	case c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0:
		return config.Errorf(ErrConfig, "DialTimeout", "timeouts must not be negative")
	case c.MaxRetries < -1:
		return config.Errorf(ErrConfig, "MaxRetries", "want -1 (never), 0 (the client's default) or more, got %d", c.MaxRetries)
	}
	return nil
}

// Topology is the topology c's URL names, Single when it does not parse.
func (c Config) Topology() Topology {
	t, err := parse(c.URL, c.Cluster)
	if err != nil {
		return Single
	}
	return t.topology
}

// String describes c for logs and messages: the topology, the servers,
// the user and where each secret comes from, never a secret itself.
func (c Config) String() string {
	t, err := parse(c.URL, c.Cluster)
	if err != nil {
		return "redis (unparsable URL)"
	}
	parts := []string{t.describe()}
	if t.user != "" {
		parts = append(parts, "user "+t.user)
	}
	switch {
	case c.PasswordFile != "":
		parts = append(parts, "password from "+c.PasswordFile)
	case c.Password != "" || t.password != "":
		parts = append(parts, "password [redacted]")
	}
	if c.SentinelPasswordFile != "" {
		parts = append(parts, "sentinel password from "+c.SentinelPasswordFile)
	}
	if c.CAFile != "" {
		parts = append(parts, "CA "+c.CAFile)
	}
	if c.CertFile != "" {
		parts = append(parts, "client certificate "+c.CertFile)
	}
	return strings.Join(parts, ", ")
}

// GoString is String, so that %#v shows no password either.
func (c Config) GoString() string { return "redisconn.Config{" + c.String() + "}" }
