package idempotency

import (
	"time"

	"github.com/alicebob/miniredis/v2"
)

// KeepTime makes an in-process miniredis expire keys as time passes, as
// Redis does; miniredis only moves its clock when told. Leases and done
// marks depend on it. The returned func stops the clock.
func KeepTime(m *miniredis.Miniredis) (stop func()) {
	done := make(chan struct{})
	go func() {
		// A second is fine-grained enough for leases of tens of seconds, and
		// FastForward walks every key with a TTL, so it must not run often.
		const step = time.Second
		t := time.NewTicker(step)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.FastForward(step)
			}
		}
	}()
	return func() { close(done) }
}
