package deliverylog

import (
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/redis/go-redis/v9"
)

func TestConfigBounds(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		c     Config
		field string
	}{
		{Config{Redis: rdb}, "Brokers"},
		{Config{Brokers: []string{"b:9092"}}, "Redis"},
		{Config{Brokers: []string{"b:9092"}, Redis: rdb, Keep: -1}, "Keep"},
		{Config{Brokers: []string{"b:9092"}, Redis: rdb, MaxBatch: -5}, "MaxBatch"},
		{Config{Brokers: []string{"b:9092"}, Redis: rdb, TTL: -time.Hour}, "TTL"},
		{Config{Brokers: []string{"b:9092"}, Redis: rdb, Membership: kafka.Group{SessionTimeout: time.Millisecond}}, "Membership.SessionTimeout"},
	} {
		var fe *config.FieldError
		if err := tc.c.withDefaults(); !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || fe.Field != tc.field {
			t.Errorf("%s: %v, want ErrConfig naming it", tc.field, err)
		}
	}
}
