package redisconn

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookline/hookline/internal/config"
)

// target is what a URL names.
type target struct {
	topology       Topology
	tls            bool
	addrs          []string
	master         string // Sentinel
	db             int
	user, password string
	protocol       int
}

// parse reads a Config.URL; cluster makes a redis:// URL a cluster seed.
func parse(raw string, cluster bool) (target, error) {
	var t target
	if raw == "" {
		return t, config.Errorf(ErrConfig, "URL", "required: redis://host:port/db, %s://host:26379,.../master/db or %s://host:7000,...", SchemeSentinel, SchemeCluster)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return t, config.Errorf(ErrConfig, "URL", "%q has no scheme: write redis://host:port/db", redact(raw))
	}
	base := scheme
	if s, plus, found := strings.Cut(scheme, "+"); found {
		base = s
		switch plus {
		case "sentinel":
			t.topology = Sentinel
		case "cluster":
			t.topology = Cluster
		default:
			return t, config.Errorf(ErrConfig, "URL", "unknown scheme %q: want redis, %s or %s (rediss... for TLS)", scheme, SchemeSentinel, SchemeCluster)
		}
	} else {
		t.topology = Single
	}
	switch base {
	case "redis":
	case "rediss":
		t.tls = true
	default:
		return t, config.Errorf(ErrConfig, "URL", "unknown scheme %q: want redis, %s or %s (rediss... for TLS)", scheme, SchemeSentinel, SchemeCluster)
	}
	if cluster {
		switch t.topology {
		case Sentinel:
			return t, config.Errorf(ErrConfig, "Cluster", "set with a %s URL: a Sentinel's master is not a cluster", SchemeSentinel)
		case Single:
			t.topology = Cluster
		}
	}
	// Several hosts are not a valid URL host: split them off by hand.
	authority, path, _ := strings.Cut(rest, "/")
	path, query, _ := strings.Cut(path, "?")
	if i := strings.Index(authority, "?"); i >= 0 {
		authority, query = authority[:i], authority[i+1:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		info, err := url.Parse("x://" + authority[:at+1] + "h")
		if err != nil || info.User == nil {
			return t, config.Errorf(ErrConfig, "URL", "unreadable user or password in %q", redact(raw))
		}
		t.user = info.User.Username()
		t.password, _ = info.User.Password()
		authority = authority[at+1:]
	}
	port := "6379"
	if t.topology == Sentinel {
		port = "26379"
	}
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, port)
		if err != nil {
			return t, config.Errorf(ErrConfig, "URL", "%v in %q", err, redact(raw))
		}
		t.addrs = append(t.addrs, addr)
	}
	if t.topology == Single && len(t.addrs) > 1 {
		return t, config.Errorf(ErrConfig, "URL", "%d hosts in %q: name a Sentinel (%s://) or a cluster (%s://) for several", len(t.addrs), redact(raw), SchemeSentinel, SchemeCluster)
	}
	if err := t.readPath(path); err != nil {
		return t, err
	}
	if err := t.readQuery(query); err != nil {
		return t, err
	}
	return t, nil
}

func hostPort(h, port string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("an empty host")
	}
	if host, p, err := net.SplitHostPort(h); err == nil {
		if host == "" {
			return "", fmt.Errorf("no host before :%s", p)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q is not 1-65535", p)
		}
		return h, nil
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), port), nil
}

// readPath reads /db, /master or /master/db.
func (t *target) readPath(path string) error {
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	if t.topology == Sentinel {
		if len(parts) == 0 {
			return config.Errorf(ErrConfig, "URL", "%s:// needs the master's name: %s://host:26379,host:26379/mymaster/0", SchemeSentinel, SchemeSentinel)
		}
		t.master, parts = parts[0], parts[1:]
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		db, err := strconv.Atoi(parts[0])
		if err != nil || db < 0 {
			return config.Errorf(ErrConfig, "URL", "db %q is not a number 0 or more", parts[0])
		}
		if t.topology == Cluster && db != 0 {
			return config.Errorf(ErrConfig, "URL", "db %d on a cluster: Redis Cluster has db 0 only", db)
		}
		t.db = db
		return nil
	}
	return config.Errorf(ErrConfig, "URL", "path %q: want /db (or /master/db for a Sentinel)", path)
}

// readQuery reads protocol=2|3; anything else is refused rather than
// ignored.
func (t *target) readQuery(query string) error {
	q, err := url.ParseQuery(query)
	if err != nil {
		return config.Errorf(ErrConfig, "URL", "query %q: %v", query, err)
	}
	t.protocol = 2
	for k, v := range q {
		if k != "protocol" {
			return config.Errorf(ErrConfig, "URL", "unknown query parameter %q (only protocol=2 or 3)", k)
		}
		switch v[len(v)-1] {
		case "2":
		case "3":
			t.protocol = 3
		default:
			return config.Errorf(ErrConfig, "URL", "protocol=%q: want 2 or 3", v[len(v)-1])
		}
	}
	return nil
}

// describe names the topology and servers.
func (t target) describe() string {
	tls := ""
	if t.tls {
		tls = " over TLS"
	}
	switch t.topology {
	case Sentinel:
		return fmt.Sprintf("Sentinel master %q db %d via %s%s", t.master, t.db, strings.Join(t.addrs, ","), tls)
	case Cluster:
		return fmt.Sprintf("cluster via %s%s", strings.Join(t.addrs, ","), tls)
	}
	return fmt.Sprintf("redis %s db %d%s", t.addrs[0], t.db, tls)
}

// redact hides the password of a URL for a message.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, tail, _ := strings.Cut(rest, "/")
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return raw
	}
	user, _, hasPw := strings.Cut(authority[:at], ":")
	if !hasPw {
		return raw
	}
	out := scheme + "://" + user + ":[redacted]@" + authority[at+1:]
	if strings.Contains(rest, "/") {
		out += "/" + tail
	}
	return out
}
