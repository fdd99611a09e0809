package delivery

import (
	"errors"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/config"
)

// ErrConfig marks a SenderConfig setting out of its bounds; the error is
// a *config.FieldError naming it.
var ErrConfig = errors.New("sender config")

// Validate reports the first SenderConfig setting out of its bounds.
// NewSender takes the defaults for zero values and does not check; the
// dispatcher and the retrier call Validate on the SenderConfig they are
// given, and a command may call it before it starts anything.
//
//   - Prefix is empty or starts with "X-": the signature headers are
//     named <Prefix>-Signature and so on, and without it one could take
//     a name a proxy or server treats as its own.
//   - MaxRetryAfter is 0 (the default) or at least 1s: a smaller cap
//     would cut every endpoint's Retry-After to nothing.
//   - MaxResponseBytes and MaxConnsPerHost are 0 (their defaults) or
//     more.
func (c SenderConfig) Validate() error {
	switch {
	case c.Prefix != "" && !strings.HasPrefix(strings.ToLower(c.Prefix), "x-"):
		return config.Errorf(ErrConfig, "Prefix", "want a header prefix like X-Acme, got %q", c.Prefix)
	case c.MaxRetryAfter != 0 && c.MaxRetryAfter < time.Second:
		return config.Errorf(ErrConfig, "MaxRetryAfter", "want at least 1s, got %s", c.MaxRetryAfter)
	case c.MaxResponseBytes < 0:
		return config.Errorf(ErrConfig, "MaxResponseBytes", "want 0 (the default, 64 KiB) or more, got %d", c.MaxResponseBytes)
	case c.MaxConnsPerHost < 0:
		return config.Errorf(ErrConfig, "MaxConnsPerHost", "want 0 (the default, 64) or more, got %d", c.MaxConnsPerHost)
	}
	return nil
}
