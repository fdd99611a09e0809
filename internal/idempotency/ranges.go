// Package idempotency keeps, in Redis, what has been settled so that work
// re-consumed after a crash or rebalance is not sent again.
//
// The dispatcher's state is per partition: for every delivery that settled
// (2xx recorded, or handed to a retry topic / dead letters), one member
// "endpoint|first|last" in a sorted set per (topic, partition), scored by
// last offset. A batch holds, per partition, a contiguous run of the records
// its endpoint matched, so one member covers up to 10,000 records: one ZADD
// per partition per delivery, instead of a key per record, and a restart
// loads a partition's members in one ZRANGE. Members below the committed
// offset are pruned as commits advance, so the sets stay small. Per-delivery
// keys would not work here: a re-consumed record lands in a new batch with a
// new delivery id, so only offsets identify it.
package idempotency

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Span is one settled run of records of one endpoint on one partition.
type Span struct {
	Topic       string
	Partition   int32
	EndpointID  string
	First, Last int64 // inclusive offsets
}

func (s Span) member() string {
	return s.EndpointID + "|" + strconv.FormatInt(s.First, 10) + "|" + strconv.FormatInt(s.Last, 10)
}

// Ranges stores settled spans. The zero value is not usable; use NewRanges.
type Ranges struct {
	rdb    redis.Cmdable
	prefix string
}

// NewRanges stores under prefix (default "hookline:") plus the consumer
// group, so two groups reading the same topic keep separate state.
func NewRanges(rdb redis.Cmdable, prefix, group string) *Ranges {
	if prefix == "" {
		prefix = "hookline:"
	}
	return &Ranges{rdb: rdb, prefix: prefix + "settled:" + group + ":"}
}

func (r *Ranges) key(topic string, part int32) string {
	return r.prefix + "{" + topic + ":" + strconv.Itoa(int(part)) + "}"
}

// Record stores spans in one round trip: one ZADD per partition, holding
// every member of that partition, in a pipeline when there are several.
func (r *Ranges) Record(ctx context.Context, spans []Span) error {
	if len(spans) == 0 {
		return nil
	}
	type keyed struct {
		key     string
		members []redis.Z
	}
	var byKey []keyed // few partitions per round: a slice beats a map
	for _, s := range spans {
		k := r.key(s.Topic, s.Partition)
		i := 0
		for i < len(byKey) && byKey[i].key != k {
			i++
		}
		if i == len(byKey) {
			byKey = append(byKey, keyed{key: k})
		}
		byKey[i].members = append(byKey[i].members, redis.Z{Score: float64(s.Last), Member: s.member()})
	}
	var err error
	if len(byKey) == 1 { // spare the pipeline's overhead
		err = r.rdb.ZAdd(ctx, byKey[0].key, byKey[0].members...).Err()
	} else {
		_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range byKey {
				p.ZAdd(ctx, k.key, k.members...)
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("record settled spans: %w", err)
	}
	return nil
}

// Load returns the settled spans of a partition at or above from, by endpoint.
func (r *Ranges) Load(ctx context.Context, topic string, part int32, from int64) (map[string][][2]int64, error) {
	members, err := r.rdb.ZRangeByScore(ctx, r.key(topic, part), &redis.ZRangeBy{
		Min: strconv.FormatInt(from, 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("load settled spans of %s/%d: %w", topic, part, err)
	}
	out := map[string][][2]int64{}
	for _, m := range members {
		i := strings.LastIndexByte(m, '|')
		j := strings.LastIndexByte(m[:max(i, 0)], '|')
		if i < 0 || j < 0 {
			continue
		}
		first, err1 := strconv.ParseInt(m[j+1:i], 10, 64)
		last, err2 := strconv.ParseInt(m[i+1:], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[m[:j]] = append(out[m[:j]], [2]int64{first, last})
	}
	return out, nil
}

// Prune drops spans that end below offset (already committed).
func (r *Ranges) Prune(ctx context.Context, topic string, part int32, below int64) error {
	if err := r.rdb.ZRemRangeByScore(ctx, r.key(topic, part), "-inf", "("+strconv.FormatInt(below, 10)).Err(); err != nil {
		return fmt.Errorf("prune settled spans of %s/%d: %w", topic, part, err)
	}
	return nil
}
