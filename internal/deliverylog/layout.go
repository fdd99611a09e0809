package deliverylog

import (
	"strconv"
	"strings"
	"time"
)

// The Redis layout. Every key of a tenant sits under P+"dl:{"+tenant+"}:",
// so a tenant's keys share one cluster slot (the index script touches
// several per record) and no key of one tenant can be named from another's
// ids:
//
//	wm                  hash  topic/partition -> last offset applied (the idempotency guard)
//	d:<delivery>        hash  summary: ep, out, code, lat, items, err, due, att, first, last, from, into,
//	                          rec (where the record written after the newest entry that wrote one
//	                          landed: the delivery's newest record, read by Retry now)
//	h:<delivery>        list  the delivery's log entries as JSON, oldest first, capped
//	e:<endpoint>:d      zset  delivery ids scored by last activity (unix ms), trimmed to Keep
//	e:<endpoint>:h      hash  health: ok (last 2xx ms), n (consecutive failures), fs (failing
//	                          since ms), lf (newest failure ms), err, last (newest attempt ms),
//	                          off (the fs an auto-disable was made for)
//	e:<endpoint>:c      zset  "<status>:<record>" scored by attempt time, the newest kept
//	e:<endpoint>:f      zset  "<ms>:<record>" of the failures after the last 2xx by attempt time,
//	                          the newest 100: a 2xx read after newer failures (they came
//	                          from another partition) keeps those counted
//	e:<endpoint>:b:<hr> hash  per unix hour: n<m>, ok<m> attempts and 2xx in minute m,
//	                          l<m>:<b> attempts of minute m in latency bucket b
//
// Hour buckets expire 25 hours after their hour ends; every other key's TTL
// is refreshed on each write. Ids are escaped so that ':', '{' and '}' in
// them cannot forge another key.

// keys names the keys of one tenant.
type keys struct{ base string }

func tenantKeys(prefix, tenant string) keys {
	return keys{base: prefix + "dl:{" + escape(tenant) + "}:"}
}

func (k keys) watermark() string         { return k.base + "wm" }
func (k keys) delivery(id string) string { return k.base + "d:" + escape(id) }
func (k keys) history(id string) string  { return k.base + "h:" + escape(id) }
func (k keys) endpoint(ep string) string { return k.base + "e:" + escape(ep) + ":" }
func (k keys) deliveries(ep string) string {
	return k.endpoint(ep) + "d"
}
func (k keys) health(ep string) string { return k.endpoint(ep) + "h" }
func (k keys) codes(ep string) string  { return k.endpoint(ep) + "c" }
func (k keys) failures(ep string) string {
	return k.endpoint(ep) + "f"
}
func (k keys) hour(ep string, hour int64) string {
	return k.endpoint(ep) + "b:" + strconv.FormatInt(hour, 10)
}

// escape percent-encodes the characters that structure a key, keeping the
// mapping one-to-one.
func escape(s string) string {
	if !strings.ContainsAny(s, "%:{}") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%', ':', '{', '}':
			b.WriteByte('%')
			b.WriteString(strconv.FormatUint(uint64(c), 16))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape reverses escape for ids read back from a sorted set.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// latencyBounds are the upper bounds (ms, inclusive) of the latency
// histogram's buckets; one more bucket holds everything slower. Percentiles
// are reported as the upper bound of the bucket they fall in, so they are
// exact to within one bucket: a quarter to a half of the value.
var latencyBounds = []int64{5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750,
	1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000}

func latencyBucket(ms int64) int {
	for i, b := range latencyBounds {
		if ms <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// bucketValue is what a percentile falling in bucket b reports.
func bucketValue(b int) int64 {
	if b >= len(latencyBounds) {
		return latencyBounds[len(latencyBounds)-1]
	}
	return latencyBounds[b]
}

// hourOf returns the unix hour of t and t's minute within it.
func hourOf(t time.Time) (hour int64, minute int) {
	s := t.Unix()
	return floorDiv(s, 3600), int(s-floorDiv(s, 3600)*3600) / 60
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// bucketHorizon is how long after its hour ends an hour bucket is kept:
// the 24-hour success rate needs the hour that began 24 hours ago.
const bucketHorizon = 25 * time.Hour
