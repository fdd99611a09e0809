package producer_test

import (
	"errors"
	"testing"

	"github.com/hookline/hookline/producer"
)

// TestConfigErrorsNameTheSetting: a caller tells a bad Config from a
// failed connection, and learns which setting is at fault.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		cfg   producer.Config
		field string
	}{
		{producer.Config{}, "Brokers"},
		{producer.Config{Brokers: []string{"127.0.0.1:1"}, MaxEventBytes: -1}, "MaxEventBytes"},
		{producer.Config{Brokers: []string{"127.0.0.1:1"}, SchemaDir: t.TempDir() + "/missing"}, "SchemaDir"},
	} {
		_, err := producer.New(tc.cfg)
		var ce *producer.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, producer.ErrConfig) || ce.Field != tc.field {
			t.Errorf("%+v: %v, want a ConfigError naming %s", tc.cfg, err, tc.field)
		}
	}
}
