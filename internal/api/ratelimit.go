package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/config"
	"golang.org/x/time/rate"
)

// Bounds of Config's rates and bursts. A rate above MaxRatePerSecond is no
// limit in practice, and a burst above MaxRateBurst lets one key hold the
// server; both are more likely a typo than a wish.
const (
	MaxRatePerSecond = 100_000
	MaxRateBurst     = 1_000_000
)

// ErrConfig marks a Config setting out of its bounds, or missing; the
// error is a *ConfigError naming it.
var ErrConfig = errors.New("api config")

// ConfigError is a Config setting out of its bounds. Field is the setting
// as Config spells it ("RateBurst"), so a command can name its own flag.
type ConfigError = config.FieldError

// Validate holds the rate settings to their bounds: each rate is 0 (its
// default), negative (no limit) or at most MaxRatePerSecond; each burst
// is 0 (its default) to MaxRateBurst; IngestRateBurst needs
// IngestRatePerSecond, since without it ingest shares RateBurst. New
// calls it; a command may call it before it connects to anything.
func (c *Config) Validate() error {
	for _, r := range []struct {
		field string
		v     float64
	}{{"RatePerSecond", c.RatePerSecond}, {"IngestRatePerSecond", c.IngestRatePerSecond}} {
		if math.IsNaN(r.v) || r.v > MaxRatePerSecond {
			return config.Errorf(ErrConfig, r.field, "want at most %d per second (0: the default; negative: no limit), got %v", MaxRatePerSecond, r.v)
		}
	}
	for _, b := range []struct {
		field string
		v     int
	}{{"RateBurst", c.RateBurst}, {"IngestRateBurst", c.IngestRateBurst}} {
		if b.v < 0 || b.v > MaxRateBurst {
			return config.Errorf(ErrConfig, b.field, "want 0 (the default) to %d, got %d", MaxRateBurst, b.v)
		}
	}
	if c.IngestRateBurst != 0 && c.IngestRatePerSecond == 0 {
		return config.Errorf(ErrConfig, "IngestRateBurst", "needs IngestRatePerSecond: without it ingest shares RatePerSecond and RateBurst")
	}
	return nil
}

// burstFor is a burst's default: two seconds' worth of the rate, at least
// one request.
func burstFor(burst int, perSecond float64) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(2*perSecond))
}

// limiters hands out one token bucket per API key.
type limiters struct {
	every rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

// newLimiters gives each key perSecond requests a second with bursts of
// burst; a negative perSecond gives nil, which allows everything.
func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond < 0 {
		return nil
	}
	return &limiters{every: rate.Limit(perSecond), burst: burst, byKey: make(map[string]*rate.Limiter)}
}

// allow takes a token for key, or says how long until one is free.
func (l *limiters) allow(key string, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	lim := l.byKey[key]
	if lim == nil {
		lim = rate.NewLimiter(l.every, l.burst)
		l.byKey[key] = lim
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// tooManyRequests answers 429 with the whole seconds until the key's next
// request of this kind is allowed.
func tooManyRequests(w http.ResponseWriter, wait time.Duration, what string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, &apiError{Msg: what + " rate limit for this API key exceeded; retry after the Retry-After seconds"})
}
