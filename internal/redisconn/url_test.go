package redisconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestURLNamesTheTopology(t *testing.T) {
	for _, c := range []struct {
		url     string
		cluster bool
		want    target
	}{
		{"redis://127.0.0.1:6379/2", false, target{topology: Single, addrs: []string{"127.0.0.1:6379"}, db: 2, protocol: 2}},
		{"rediss://u:p%40ss@cache.example:6380?protocol=3", false, target{topology: Single, tls: true, addrs: []string{"cache.example:6380"}, user: "u", password: "p@ss", protocol: 3}},
		{"redis://cfg.example", true, target{topology: Cluster, addrs: []string{"cfg.example:6379"}, protocol: 2}},
		{"redis+sentinel://s1,s2:26380/mymaster/1", false, target{topology: Sentinel, addrs: []string{"s1:26379", "s2:26380"}, master: "mymaster", db: 1, protocol: 2}},
		{"rediss+cluster://hookline@n1:7000,n2:7001", false, target{topology: Cluster, tls: true, addrs: []string{"n1:7000", "n2:7001"}, user: "hookline", protocol: 2}},
	} {
		got, err := parse(c.url, c.cluster)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.topology != c.want.topology || got.tls != c.want.tls || !slices.Equal(got.addrs, c.want.addrs) || got.master != c.want.master ||
			got.db != c.want.db || got.user != c.want.user || got.password != c.want.password || got.protocol != c.want.protocol {
			t.Errorf("%s: got %+v, want %+v", c.url, got, c.want)
		}
	}
}

func TestConfigRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "URL"},
		{Config{URL: "http://x"}, "URL"},
		{Config{URL: "redis://a,b"}, "URL"},
		{Config{URL: "redis+sentinel://s1"}, "URL"},
		{Config{URL: "redis+cluster://n1/3"}, "URL"},
		{Config{URL: "redis://x?dial_timeout=3"}, "URL"},
		{Config{URL: "redis+sentinel://s1/m", Cluster: true}, "Cluster"},
		{Config{URL: "redis://:pw@x", PasswordFile: "/f"}, "PasswordFile"},
		{Config{URL: "redis://x", SentinelPasswordFile: "/f"}, "SentinelPasswordFile"},
		{Config{URL: "redis://x", CAFile: "/ca.pem"}, "CAFile"},
		{Config{URL: "rediss://x", CertFile: "/c.pem"}, "CertFile"},
		{Config{URL: "redis://x", MaxRetries: -2}, "MaxRetries"},
	} {
		err := c.cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), ": "+c.field+": ") {
			t.Errorf("%#v: %v, want an error of %s", c.cfg, err, c.field)
		}
	}
}

func TestStringShowsNoPassword(t *testing.T) {
	for _, c := range []Config{
		{URL: "redis://u:hunter2@x:1/0"},
		{URL: "redis+sentinel://u:hunter2@s1/m/0", SentinelPassword: "hunter2"},
		{URL: "redis+cluster://x:1", Password: "hunter2"},
	} {
		for _, s := range []string{c.String(), c.GoString()} {
			if strings.Contains(s, "hunter2") || !strings.Contains(s, "[redacted]") {
				t.Errorf("%q shows the password or hides that there is one", s)
			}
		}
	}
	if err := (Config{URL: "redis://u:hunter2@a,b"}).Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
}

// TestPasswordFileIsReadAtEveryConnection: a rotated password file is
// used by the next connection, without a new client.
func TestPasswordFileIsReadAtEveryConnection(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireUserAuth("hookline", "first")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb, err := NewClient(Config{URL: "redis://hookline@" + m.Addr() + "/0", PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("with the first password: %v", err)
	}
	m.RequireUserAuth("hookline", "second")
	if err := os.WriteFile(file, []byte("second\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := rdb.(*redis.Client).Conn() // a new connection
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after the file changed: %v", err)
	}
	if _, err := NewClient(Config{URL: "redis://" + m.Addr(), PasswordFile: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, ErrConfig) {
		t.Errorf("missing password file: %v, want ErrConfig", err)
	}
}
