package idempotency

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL reads a redis:// or rediss:// URL into client options. Unless
// the URL asks for a protocol (?protocol=3), it speaks RESP2: hookline uses
// no RESP3 feature, and on RESP3 the client checks the connection for push
// notifications before every command, a syscall on the dispatcher's path
// of one mark per delivery.
func ParseURL(url string) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(url, "protocol=") {
		opt.Protocol = 2
	}
	return opt, nil
}
