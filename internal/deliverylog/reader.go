package deliverylog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/redis/go-redis/v9"
)

// Status is where a delivery stands.
type Status string

// Statuses of a delivery, from its newest log entry.
const (
	StatusDelivered Status = "delivered" // a 2xx was recorded
	StatusRetrying  Status = "retrying"  // failed; the next attempt is due at NextDue
	StatusDead      Status = "dead"      // dead-lettered (replayable), a 410 included
	StatusSplit     Status = "split"     // too large for a topic: became the SplitInto deliveries
)

// Delivery is one delivery as the log tells it.
type Delivery struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpointId"`
	TenantID   string `json:"tenantId"`
	Status     Status `json:"status"`
	// Attempts is the number of attempts made, from the newest entry.
	Attempts  int        `json:"attempts"`
	Items     int        `json:"items"`
	LastCode  int        `json:"lastCode"` // 0: no response
	LatencyMS int64      `json:"latencyMs"`
	LastError string     `json:"lastError,omitempty"`
	NextDue   *time.Time `json:"nextDue,omitempty"` // only while retrying
	FirstAt   time.Time  `json:"firstAt"`
	LastAt    time.Time  `json:"lastAt"`
	// SplitFrom names the delivery this one was split from; SplitInto,
	// on a split delivery, the deliveries it became.
	SplitFrom string   `json:"splitFrom,omitempty"`
	SplitInto []string `json:"splitInto,omitempty"`
	// History is every kept log entry, oldest first (the newest
	// KeepAttempts); only Reader.Delivery fills it.
	History []Entry `json:"history,omitempty"`
}

// Reader answers delivery-log and health questions from Redis.
type Reader struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewReader reads the keys an Indexer with the same prefix (default
// "hookline:") writes.
func NewReader(rdb redis.UniversalClient, prefix string) *Reader {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Reader{rdb: rdb, prefix: prefix}
}

// Delivery returns delivery id of tenant with its history, or ErrNotFound
// (also when the delivery belongs to another tenant: the tenant names the
// keys looked in).
func (r *Reader) Delivery(ctx context.Context, tenant, id string) (Delivery, error) {
	k := tenantKeys(r.prefix, tenant)
	pipe := r.rdb.Pipeline()
	sum := pipe.HGetAll(ctx, k.delivery(id))
	hist := pipe.LRange(ctx, k.history(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return Delivery{}, fmt.Errorf("read delivery %s: %w", id, err)
	}
	if len(sum.Val()) == 0 {
		return Delivery{}, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	d := summary(tenant, id, sum.Val())
	for _, raw := range hist.Val() {
		var e Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return Delivery{}, fmt.Errorf("delivery %s: stored entry: %w", id, err)
		}
		d.History = append(d.History, e)
	}
	return d, nil
}

// Locate returns where delivery id of tenant has its newest record: the
// retry-tier record or dead letter its latest failed attempt wrote (a 2xx
// wrote none, so the one before it stays). ErrNotFound when the log holds
// no such record for the tenant: the delivery is unknown, another
// tenant's, or was delivered at its first attempt.
func (r *Reader) Locate(ctx context.Context, tenant, id string) (Location, error) {
	v, err := r.rdb.HGet(ctx, tenantKeys(r.prefix, tenant).delivery(id), "rec").Result()
	if errors.Is(err, redis.Nil) {
		return Location{}, fmt.Errorf("delivery %s has no record to replay: %w", id, ErrNotFound)
	}
	if err != nil {
		return Location{}, fmt.Errorf("locate delivery %s: %w", id, err)
	}
	loc, ok := ParseLocation(v)
	if !ok {
		return Location{}, fmt.Errorf("locate delivery %s: stored location %q", id, v)
	}
	return loc, nil
}

// Deliveries returns up to limit (default 50, at most 1000) of the
// endpoint's deliveries, most recently active first, after cursor ("" for
// the first page), and the cursor of the next page ("" after the last).
// An endpoint of another tenant has none.
func (r *Reader) Deliveries(ctx context.Context, tenant, endpointID, cursor string, limit int) ([]Delivery, string, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	k := tenantKeys(r.prefix, tenant)
	ids, more, err := r.page(ctx, k.deliveries(endpointID), cursor, limit)
	if err != nil || len(ids) == 0 {
		return nil, "", err
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for n, z := range ids {
		cmds[n] = pipe.HGetAll(ctx, k.base+"d:"+z.Member.(string))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, "", fmt.Errorf("read deliveries of %s: %w", endpointID, err)
	}
	out := make([]Delivery, 0, len(ids))
	for n, c := range cmds {
		if len(c.Val()) == 0 {
			continue // trimmed or expired between the two reads
		}
		out = append(out, summary(tenant, unescape(ids[n].Member.(string)), c.Val()))
	}
	next := ""
	if more {
		last := ids[len(ids)-1]
		next = encodeCursor(int64(last.Score), last.Member.(string))
	}
	return out, next, nil
}

// page reads up to limit members of key after cursor in descending score
// order (members of equal score descending), and whether more follow.
func (r *Reader) page(ctx context.Context, key, cursor string, limit int) ([]redis.Z, bool, error) {
	max, after := "+inf", ""
	var score int64
	if cursor != "" {
		var err error
		if score, after, err = decodeCursor(cursor); err != nil {
			return nil, false, err
		}
		max = strconv.FormatInt(score, 10)
	}
	var out []redis.Z
	for offset := int64(0); ; {
		n := int64(limit + 1 - len(out))
		zs, err := r.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: max, Min: "-inf", Offset: offset, Count: n}).Result()
		if err != nil {
			return nil, false, fmt.Errorf("read deliveries: %w", err)
		}
		for _, z := range zs {
			// Entries at the cursor's score up to and including the
			// cursor's member were on earlier pages.
			if after != "" && int64(z.Score) == score && z.Member.(string) >= after {
				continue
			}
			out = append(out, z)
		}
		offset += int64(len(zs))
		if len(out) > limit {
			return out[:limit], true, nil
		}
		if int64(len(zs)) < n {
			return out, false, nil
		}
	}
}

func encodeCursor(score int64, member string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(score, 10) + ":" + member))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	s, m, ok := strings.Cut(string(b), ":")
	score, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || m == "" {
		return 0, "", ErrBadCursor
	}
	return score, m, nil
}

// summary reads a delivery's summary hash.
func summary(tenant, id string, h map[string]string) Delivery {
	num := func(f string) int64 { n, _ := strconv.ParseInt(h[f], 10, 64); return n }
	d := Delivery{
		ID: id, EndpointID: h["ep"], TenantID: tenant, Attempts: int(num("att")), Items: int(num("items")),
		LastCode: int(num("code")), LatencyMS: num("lat"), LastError: h["err"],
		FirstAt: msTime(h["first"]), LastAt: msTime(h["last"]), SplitFrom: h["from"],
	}
	switch h["out"] {
	case delivery.Delivered.String():
		d.Status = StatusDelivered
	case delivery.Retry.String():
		d.Status = StatusRetrying
		if due := msTime(h["due"]); !due.IsZero() {
			d.NextDue = &due
		}
	case OutcomeSplit:
		d.Status = StatusSplit
		if h["into"] != "" {
			d.SplitInto = strings.Fields(h["into"])
		}
	default: // dead, gone
		d.Status = StatusDead
	}
	return d
}
