package dev

import (
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.uber.org/zap"
)

// saveEvery is how much of the in-process Redis a crash of dev (not a
// Ctrl-C, which saves on the way out) can lose: done marks newer than that
// are gone, so their deliveries may be sent again.
const saveEvery = 5 * time.Second

// Redis is the in-process Redis of `hookline dev`. It is restored from a
// snapshot file at start and written back to it every saveEvery and on
// Close, so the done marks and leases outlive a restart as the embedded
// Kafka's offsets do; without them a restarted dev would send retried
// deliveries again.
type Redis struct {
	m         *miniredis.Miniredis
	file      string
	log       *zap.Logger
	restored  int
	stopClock func()
	done      chan struct{} // closed by Close: stop the periodic save
	saved     chan struct{} // closed once the periodic save has stopped
}

// StartRedis starts an in-process Redis on a free port of 127.0.0.1,
// restored from file if it exists. A snapshot that cannot be read is an
// error rather than an empty start, so that dev does not silently forget
// what it had done. Failed periodic saves are logged to log.
func StartRedis(file string, log *zap.Logger) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	n, err := loadRedis(m, file, time.Now())
	if err != nil {
		return nil, fmt.Errorf("in-process redis: restoring %s: %w (move it away to start empty)", file, err)
	}
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("in-process redis: %w", err)
	}
	r := &Redis{
		m:         m,
		file:      file,
		log:       log,
		restored:  n,
		stopClock: KeepTime(m), // leases and done marks expire as in Redis
		done:      make(chan struct{}),
		saved:     make(chan struct{}),
	}
	go r.saveLoop()
	return r, nil
}

// Addr is the host:port the in-process Redis serves on.
func (r *Redis) Addr() string { return r.m.Addr() }

// Restored is how many keys StartRedis brought back from the snapshot.
func (r *Redis) Restored() int { return r.restored }

// Close stops the periodic save, writes a last snapshot and stops the
// server. The last snapshot is one instant only if nothing writes any more,
// so the caller stops its pipeline first.
func (r *Redis) Close() {
	close(r.done)
	<-r.saved
	r.stopClock()
	r.save()
	r.m.Close()
}

func (r *Redis) saveLoop() {
	defer close(r.saved)
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			r.save()
		}
	}
}

func (r *Redis) save() {
	if err := saveRedis(r.m, r.file, time.Now()); err != nil {
		r.log.Warn("in-process redis: not saved", zap.String("file", r.file), zap.Error(err))
	}
}

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
