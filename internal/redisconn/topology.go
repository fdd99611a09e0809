package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Errors of Discover.
var (
	// ErrSentinelUnreachable: no sentinel of the URL answered.
	ErrSentinelUnreachable = errors.New("no Redis Sentinel answered")
	// ErrUnknownMaster: sentinels answered but none knows the master.
	ErrUnknownMaster = errors.New("the Sentinels know no such master")
	// ErrClusterUnreachable: no seed of the URL answered as a cluster
	// node.
	ErrClusterUnreachable = errors.New("no Redis Cluster node answered")
)

// Found is the topology Discover found.
type Found struct {
	Topology Topology
	// Addr is the server of Single, the master of Sentinel; DB their db.
	Addr string
	DB   int
	// Master is the Sentinel master's name; Sentinels how many of
	// Asked answered for it; Replicas the replicas they know of it (a
	// cluster's: of all its masters).
	Master             string
	Sentinels, Asked   int
	Replicas           int
	Masters            []string // Cluster: the masters' addresses
	SlotsCovered       int      // Cluster: of 16384
	ClusterState       string   // Cluster: CLUSTER INFO's cluster_state
	MastersWithoutCopy int      // Cluster: masters with no replica
}

// SlotCount is the number of hash slots of a Redis Cluster.
const SlotCount = 16384

// String says what was found in one line.
func (f Found) String() string {
	switch f.Topology {
	case Sentinel:
		return fmt.Sprintf("Sentinel master %q at %s, %d replica(s); %d of %d sentinels answer", f.Master, f.Addr, f.Replicas, f.Sentinels, f.Asked)
	case Cluster:
		return fmt.Sprintf("cluster %s: %d masters (%s), %d replicas, %d of %d slots covered", f.ClusterState, len(f.Masters),
			strings.Join(f.Masters, ","), f.Replicas, f.SlotsCovered, SlotCount)
	}
	return "single server " + f.Addr
}

// Discover asks the servers of c what they are: for Sentinel, every
// sentinel for the master's address and replicas; for Cluster, the slot
// map. Single is taken as it is. Errors name the addresses asked and
// what to check.
func Discover(ctx context.Context, c Config) (Found, error) {
	if err := c.Validate(); err != nil {
		return Found{}, err
	}
	t, _ := parse(c.URL, c.Cluster)
	switch t.topology {
	case Sentinel:
		return discoverSentinel(ctx, c, t)
	case Cluster:
		return discoverCluster(ctx, c, t)
	}
	return Found{Topology: Single, Addr: t.addrs[0], DB: t.db}, nil
}

func discoverSentinel(ctx context.Context, c Config, t target) (Found, error) {
	f := Found{Topology: Sentinel, Master: t.master, Asked: len(t.addrs), DB: t.db}
	opts, err := sentinelOptions(c, t)
	if err != nil {
		return f, err
	}
	var errs []string
	known := false
	for _, addr := range t.addrs {
		o := *opts
		o.Addr = addr
		sc := redis.NewSentinelClient(&o)
		hostPort, err := sc.GetMasterAddrByName(ctx, t.master).Result()
		switch {
		case errors.Is(err, redis.Nil):
			f.Sentinels++
			errs = append(errs, addr+": does not know master "+fmt.Sprintf("%q", t.master))
		case err != nil:
			errs = append(errs, addr+": "+err.Error())
		default:
			f.Sentinels++
			known = true
			if f.Addr == "" && len(hostPort) == 2 {
				f.Addr = net.JoinHostPort(hostPort[0], hostPort[1])
				if rs, err := sc.Replicas(ctx, t.master).Result(); err == nil {
					f.Replicas = len(rs)
				}
			}
		}
		_ = sc.Close()
	}
	switch {
	case f.Sentinels == 0:
		return f, fmt.Errorf("%w: asked %s (%s); check that these are the sentinels' addresses (port 26379 by default, not the master's), that they run and this host may reach them, and their password (--redis-sentinel-password-file)",
			ErrSentinelUnreachable, strings.Join(t.addrs, ", "), strings.Join(errs, "; "))
	case !known:
		return f, fmt.Errorf("%w %q: asked %s; check the master's name in the URL (%s://host:26379/<name>/db) against the sentinels' `sentinel monitor <name> ...`",
			ErrUnknownMaster, t.master, strings.Join(t.addrs, ", "), SchemeSentinel)
	}
	return f, nil
}

func discoverCluster(ctx context.Context, c Config, t target) (Found, error) {
	f := Found{Topology: Cluster}
	c.MaxRetries = -1
	rdb, err := NewClient(c)
	if err != nil {
		return f, err
	}
	defer rdb.Close()
	cc := rdb.(*redis.ClusterClient)
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return f, fmt.Errorf("%w: asked %s: %v; check that these are cluster nodes (cluster-enabled yes; for a single server use redis://, without --redis-cluster), that they run and this host may reach them, TLS (rediss+cluster://) and the password",
			ErrClusterUnreachable, strings.Join(t.addrs, ", "), err)
	}
	masters := map[string]int{} // replicas per master
	for _, s := range slots {
		f.SlotsCovered += int(s.End-s.Start) + 1
		if len(s.Nodes) == 0 {
			continue
		}
		m := s.Nodes[0].Addr
		masters[m] = max(masters[m], len(s.Nodes)-1)
	}
	for m, r := range masters {
		f.Masters = append(f.Masters, m)
		f.Replicas += r
		if r == 0 {
			f.MastersWithoutCopy++
		}
	}
	slices.Sort(f.Masters)
	f.ClusterState = "state unknown"
	if info, err := cc.ClusterInfo(ctx).Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
				f.ClusterState = "state " + v
			}
		}
	}
	return f, nil
}
