package delivery

import (
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
)

func TestSenderConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		c     SenderConfig
		field string
	}{
		{SenderConfig{Prefix: "Hookline"}, "Prefix"},
		{SenderConfig{MaxRetryAfter: 500 * time.Millisecond}, "MaxRetryAfter"},
		{SenderConfig{MaxRetryAfter: -time.Second}, "MaxRetryAfter"},
		{SenderConfig{MaxResponseBytes: -1}, "MaxResponseBytes"},
		{SenderConfig{MaxConnsPerHost: -1}, "MaxConnsPerHost"},
	} {
		var fe *config.FieldError
		if err := tc.c.Validate(); !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want ErrConfig naming %s", tc.c, err, tc.field)
		}
	}
	for _, c := range []SenderConfig{{}, {Prefix: "x-acme", MaxRetryAfter: time.Second}, {Prefix: "X-Momentumpro", MaxConnsPerHost: 8}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
