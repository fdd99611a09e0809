package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/redisconn"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The Redis passwords' variables, when no file holds them. No flag takes
// a password itself: a command line is seen by every user of the host
// (ps) and kept in shell histories.
const (
	envRedisPassword         = "HOOKLINE_REDIS_PASSWORD"
	envRedisSentinelPassword = "HOOKLINE_REDIS_SENTINEL_PASSWORD"
)

// redisFlags are how every command that uses Redis reaches it: the URL
// names the topology (one server, a Sentinel's master, a cluster), the
// other flags the secrets and TLS, each also read from its HOOKLINE_
// variable, read into a redisconn.Config.
type redisFlags struct {
	cfg redisconn.Config
}

// register adds --redis-url with def and usage, and the flags beside it.
func (f *redisFlags) register(fs *flagSet, def, usage string) {
	fs.StringVar(&f.cfg.URL, "redis-url", def, usage+": redis://[user@]host:6379/db, rediss:// for TLS, "+
		redisconn.SchemeSentinel+"://[user@]host:26379,host:26379/master/db for a Sentinel's master, "+
		redisconn.SchemeCluster+"://[user@]host:7000,host:7001 for Redis Cluster")
	fs.BoolVar(&f.cfg.Cluster, "redis-cluster", false, "take --redis-url's redis:// or rediss:// host as a Redis Cluster's seed (e.g. a configuration endpoint)")
	fs.StringVar(&f.cfg.PasswordFile, "redis-password-file", "", "file holding the Redis password (of --redis-url's user, or requirepass), read at every connection; or set "+envRedisPassword)
	fs.StringVar(&f.cfg.SentinelUser, "redis-sentinel-user", "", "ACL user of the sentinels themselves (default: none)")
	fs.StringVar(&f.cfg.SentinelPasswordFile, "redis-sentinel-password-file", "", "file holding the sentinels' own password (default: none); or set "+envRedisSentinelPassword)
	fs.StringVar(&f.cfg.CAFile, "redis-tls-ca-file", "", "PEM bundle of the CAs that sign Redis's certificates, with a rediss URL (default: the system's)")
	fs.StringVar(&f.cfg.CertFile, "redis-tls-cert-file", "", "PEM client certificate for servers that want one, with --redis-tls-key-file")
	fs.StringVar(&f.cfg.KeyFile, "redis-tls-key-file", "", "PEM private key of --redis-tls-cert-file")
	fs.StringVar(&f.cfg.ServerName, "redis-tls-server-name", "", "name Redis's certificates must carry (default: the host dialled; on a cluster, the seed's host name)")
}

// redisSettings names the flag of each redisconn.Config field; the
// passwords themselves have variables, no flags.
var redisSettings = settings{
	"URL": "redis-url", "Cluster": "redis-cluster", "PasswordFile": "redis-password-file",
	"SentinelUser": "redis-sentinel-user", "SentinelPasswordFile": "redis-sentinel-password-file",
	"CAFile": "redis-tls-ca-file", "CertFile": "redis-tls-cert-file", "KeyFile": "redis-tls-key-file",
	"ServerName": "redis-tls-server-name",
}

var redisPasswordField = regexp.MustCompile(`\b(Sentinel)?Password\b`)

// config is the flags' redisconn.Config with the passwords of the
// environment, checked.
func (f *redisFlags) config() (redisconn.Config, error) {
	c := f.cfg
	c.Password = os.Getenv(envRedisPassword)
	c.SentinelPassword = os.Getenv(envRedisSentinelPassword)
	if err := c.Validate(); err != nil {
		return c, redisFlagError(err)
	}
	return c, nil
}

// client connects as the flags say.
func (f *redisFlags) client() (redis.UniversalClient, error) {
	c, err := f.config()
	if err != nil {
		return nil, err
	}
	rdb, err := redisconn.NewClient(c)
	if err != nil {
		return nil, redisFlagError(err)
	}
	return rdb, nil
}

// redisLog puts the Redis client's own lines (a Sentinel's new master,
// dials retried) in the process's log, as warnings: on their own they
// would go to stderr unstructured, in the middle of JSON logs.
type redisLog struct{ log *zap.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)), zap.String("from", "go-redis"))
}

// redisFlagError reports a redisconn error in the command's words.
func redisFlagError(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		c := *fe
		c.Reason = redisPasswordField.ReplaceAllStringFunc(fe.Reason, func(w string) string {
			if w == "SentinelPassword" {
				return envRedisSentinelPassword
			}
			return envRedisPassword
		})
		err = &c
	}
	return redisSettings.flagError(err)
}
