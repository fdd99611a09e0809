package deliverylog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// indexScript applies one log entry to its tenant's keys. The watermark of
// the record's partition makes it idempotent: a record at or below it was
// applied before (re-read after a crash, a restart from an earlier offset,
// or a second group over the same keys) and changes nothing. Records of one
// partition are applied in order, so the watermark is exact.
//
// It returns {applied, failing since ms, newest failure ms, the failing
// since of the last auto-disable}, the last three for the endpoint whether
// or not the record was new, so that a disable missed by a crash is made
// when the record is read again.
var indexScript = redis.NewScript(`
local function state(applied)
  local s = redis.call('HMGET', KEYS[5], 'fs', 'lf', 'off')
  return {applied, s[1] or '', s[2] or '', s[3] or ''}
end
local ttl = ARGV[3]
local w = redis.call('HGET', KEYS[1], ARGV[1])
if w and tonumber(w) >= tonumber(ARGV[2]) then return state(0) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ttl)
local at = tonumber(ARGV[7])
local d = redis.call('HMGET', KEYS[2], 'last', 'att', 'first')
if not d[1] or at >= tonumber(d[1]) then
  redis.call('HSET', KEYS[2], 'ep', ARGV[6], 'out', ARGV[8], 'code', ARGV[9], 'lat', ARGV[10], 'items', ARGV[11],
    'err', ARGV[13], 'due', ARGV[14], 'into', ARGV[16], 'last', ARGV[7])
  if ARGV[25] ~= '' then redis.call('HSET', KEYS[2], 'rec', ARGV[25]) end
end
if not d[2] or tonumber(ARGV[12]) > tonumber(d[2]) then redis.call('HSET', KEYS[2], 'att', ARGV[12]) end
if not d[3] or at < tonumber(d[3]) then redis.call('HSET', KEYS[2], 'first', ARGV[7]) end
if ARGV[15] ~= '' then redis.call('HSET', KEYS[2], 'from', ARGV[15]) end
redis.call('RPUSH', KEYS[3], ARGV[17])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[21]), -1)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
local sc = redis.call('ZSCORE', KEYS[4], ARGV[5])
if not sc or at > tonumber(sc) then redis.call('ZADD', KEYS[4], at, ARGV[5]) end
local over = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[4], 0, over - 1)) do
    redis.call('DEL', ARGV[23] .. 'd:' .. m, ARGV[23] .. 'h:' .. m)
    redis.call('ZREM', KEYS[4], m)
  end
end
redis.call('EXPIRE', KEYS[4], ttl)
if ARGV[8] == 'split' then return state(1) end
local h = redis.call('HMGET', KEYS[5], 'ok', 'fs', 'lf', 'last')
local lastok = tonumber(h[1])
if ARGV[8] == 'delivered' then
  if not lastok or at >= lastok then
    -- Failures after this 2xx (read before it, from other partitions)
    -- still count; the ones before it no longer do.
    redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', at)
    local left = redis.call('ZRANGE', KEYS[8], 0, 0)
    redis.call('HSET', KEYS[5], 'ok', ARGV[7], 'n', redis.call('ZCARD', KEYS[8]))
    if left[1] then
      redis.call('HSET', KEYS[5], 'fs', string.match(left[1], '^(%d+):'))
    else
      redis.call('HDEL', KEYS[5], 'fs', 'lf', 'err')
    end
  end
elseif not lastok or at > lastok then
  redis.call('HINCRBY', KEYS[5], 'n', 1)
  redis.call('ZADD', KEYS[8], at, ARGV[7] .. ':' .. ARGV[24])
  redis.call('ZREMRANGEBYRANK', KEYS[8], 0, -101)
  if not h[2] or at < tonumber(h[2]) then redis.call('HSET', KEYS[5], 'fs', ARGV[7]) end
  if not h[3] or at > tonumber(h[3]) then redis.call('HSET', KEYS[5], 'lf', ARGV[7], 'err', ARGV[13]) end
end
if not h[4] or at > tonumber(h[4]) then redis.call('HSET', KEYS[5], 'last', ARGV[7]) end
redis.call('ZADD', KEYS[6], at, ARGV[9] .. ':' .. ARGV[24])
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -tonumber(ARGV[22]) - 1)
local m = ARGV[18]
redis.call('HINCRBY', KEYS[7], 'n' .. m, 1)
if ARGV[8] == 'delivered' then redis.call('HINCRBY', KEYS[7], 'ok' .. m, 1) end
redis.call('HINCRBY', KEYS[7], 'l' .. m .. ':' .. ARGV[19], 1)
redis.call('EXPIREAT', KEYS[7], ARGV[20])
redis.call('EXPIRE', KEYS[5], ttl)
redis.call('EXPIRE', KEYS[6], ttl)
redis.call('EXPIRE', KEYS[8], ttl)
return state(1)`)

// entry is one parsed attempt-log record (its Entry) ready to be applied.
type entry struct {
	e    Entry
	keys []string
	args []any
}

// errSkip marks a record that cannot be indexed (not a log entry, or
// missing the ids that place it); it is logged and committed past.
var errSkip = fmt.Errorf("not an indexable log entry")

// parse builds the script call of record r.
func (i *Indexer) parse(r *kgo.Record) (entry, error) {
	var x entry
	if err := json.Unmarshal(r.Value, &x.e); err != nil {
		return x, fmt.Errorf("%w: %w", errSkip, err)
	}
	e := &x.e
	if e.DeliveryID == "" || e.EndpointID == "" || e.TenantID == "" || e.At.IsZero() {
		return x, fmt.Errorf("%w: delivery, endpoint, tenant and time are required", errSkip)
	}
	k := tenantKeys(i.cfg.Prefix, e.TenantID)
	hour, minute := hourOf(e.At)
	x.keys = []string{k.watermark(), k.delivery(e.DeliveryID), k.history(e.DeliveryID),
		k.deliveries(e.EndpointID), k.health(e.EndpointID), k.codes(e.EndpointID), k.hour(e.EndpointID, hour),
		k.failures(e.EndpointID)}
	due := ""
	if e.NextDue != nil {
		due = strconv.FormatInt(e.NextDue.UnixMilli(), 10)
	}
	rec := ""
	if e.Record != nil {
		rec = e.Record.String()
	}
	expireAt := time.Unix((hour+1)*3600, 0).Add(bucketHorizon).Unix()
	wm := r.Topic + "/" + strconv.Itoa(int(r.Partition))
	x.args = []any{
		wm, r.Offset, int64(i.cfg.TTL / time.Second), i.cfg.Keep,
		escape(e.DeliveryID), e.EndpointID, e.At.UnixMilli(),
		e.Outcome, e.Status, e.LatencyMS, e.Items, e.Attempt, e.Error, due, e.SplitFrom,
		strings.Join(e.SplitInto, " "), r.Value, minute, latencyBucket(e.LatencyMS), expireAt,
		i.cfg.KeepAttempts, i.cfg.RecentCodes, k.base, wm + ":" + strconv.FormatInt(r.Offset, 10), rec,
	}
	return x, nil
}

// applied is the script's answer for one entry.
type applied struct {
	new                    bool
	failingSince, lastFail time.Time
	disabledFor            string // the failing-since (ms) an auto-disable was made for
	rawFailingSince        string
}

func parseApplied(v any) (applied, error) {
	vs, ok := v.([]any)
	if !ok || len(vs) != 4 {
		return applied{}, fmt.Errorf("index script: unexpected reply %v", v)
	}
	var a applied
	n, _ := vs[0].(int64)
	a.new = n == 1
	a.rawFailingSince, _ = vs[1].(string)
	a.failingSince = msTime(a.rawFailingSince)
	lf, _ := vs[2].(string)
	a.lastFail = msTime(lf)
	a.disabledFor, _ = vs[3].(string)
	return a, nil
}

// msTime reads unix milliseconds; "" or junk is the zero time.
func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s == "" {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
