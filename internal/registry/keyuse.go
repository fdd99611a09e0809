package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// keyUsePrefix names a key's use record, apikeyuse/<key id>: when the key
// was last used. It is a record of its own, never a rewrite of the key's,
// so that recording a use cannot race with a revocation and bring a
// revoked key back: the key record is written once, at create, and
// deleted once, by RevokeKey.
const keyUsePrefix = "apikeyuse/"

// DefaultKeyUseInterval is Config.KeyUseInterval's default: a key's
// LastUsedAt is at most this stale, and a busy key costs the registry one
// record per interval and process, not one per request.
const DefaultKeyUseInterval = 10 * time.Minute

// useTimeout bounds one use record's write; a use that cannot be
// recorded in time is dropped (the next interval records it).
const useTimeout = 10 * time.Second

// useRecord is a key use record's value.
type useRecord struct {
	At time.Time `json:"at"`
}

// keyUses is this process's memory of the uses it recorded, which keeps
// it to one use record per key and interval.
type keyUses struct {
	// wg counts the use writes under way. Close waits for them only
	// after closing the client: a record the client may have sent cannot
	// be abandoned (the idempotent producer retries it past any deadline
	// while the brokers are away), so waiting first could hold a shutdown
	// for a whole outage. Closing the client fails such a write; a use
	// not recorded costs one stale LastUsedAt, nothing else.
	wg    sync.WaitGroup
	every time.Duration
	mu    sync.Mutex
	noted map[string]time.Time // key id -> when this process last recorded (or tried to) its use
	high  int                  // size of noted past which spent entries are dropped
}

func (u *keyUses) init(every time.Duration) {
	if every <= 0 {
		every = DefaultKeyUseInterval
	}
	u.every, u.noted, u.high = every, map[string]time.Time{}, 1024
}

// claim reports whether this process should record a use of id at now: it
// has not tried to within the interval. A failed write keeps its claim,
// so an unreachable broker is not asked once per request.
func (u *keyUses) claim(id string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if at, ok := u.noted[id]; ok && now.Sub(at) < u.every {
		return false
	}
	u.noted[id] = now
	if len(u.noted) > u.high {
		// Entries older than the interval no longer hold anything back.
		for k, at := range u.noted {
			if now.Sub(at) >= u.every {
				delete(u.noted, k)
			}
		}
		u.high = max(2*len(u.noted), 1024)
	}
	return true
}

func (u *keyUses) forget(id string) {
	u.mu.Lock()
	delete(u.noted, id)
	u.mu.Unlock()
}

// NoteKeyUse records that the key was used just now, for Keys'
// LastUsedAt. It never blocks: the record is written in the background,
// at most once per KeyUseInterval per key by this Store, and not at all
// while the registry already holds a use of the key within the interval
// (another process recorded it).
func (s *Store) NoteKeyUse(keyID string) {
	now := time.Now()
	x := s.snapshot()
	if _, ok := x.keys[keyID]; !ok {
		return
	}
	if at, ok := x.used[keyID]; ok && now.Sub(at) < s.uses.every {
		return
	}
	if !s.uses.claim(keyID, now) {
		return
	}
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return
	}
	s.uses.wg.Add(1)
	s.wmu.Unlock()
	go func() {
		defer s.uses.wg.Done()
		s.writeUse(keyID, now)
	}()
}

// writeUse writes one use record. A record the log applied after the
// key's tombstone (a revocation won the race) is deleted again, so that
// it does not outlive the key in the compacted topic.
func (s *Store) writeUse(id string, at time.Time) {
	ctx, cancel := context.WithTimeout(s.ctx, useTimeout)
	defer cancel()
	v, err := json.Marshal(useRecord{At: at.UTC()})
	if err != nil {
		s.log.Error("registry: encode a key use", zap.String("key", id), zap.Error(err))
		return
	}
	o, err := s.write(ctx, keyUsePrefix+id, v)
	if err != nil && s.ctx.Err() != nil {
		return // closed meanwhile
	}
	if err != nil {
		s.log.Warn("registry: recording an API key's use failed; its lastUsedAt lags until the next use records it", zap.String("key", id), zap.Error(err))
		return
	}
	if o.err != nil {
		if _, err := s.write(ctx, keyUsePrefix+id, nil); err != nil {
			s.log.Warn("registry: deleting the use record of a revoked key failed; the next Open deletes it", zap.String("key", id), zap.Error(err))
		}
	}
}

// applyKeyUse applies a use record. One whose key is not live at its
// offset is kept (so that repairKeyUses finds it) but reported as not
// applied, so its writer deletes it.
func (b *builder) applyKeyUse(id string, v []byte) outcome {
	x := b.next
	if v == nil {
		delete(x.used, id)
		return outcome{}
	}
	var u useRecord
	if err := json.Unmarshal(v, &u); err != nil || u.At.IsZero() {
		return outcome{err: fmt.Errorf("registry: malformed api key use record %q: %v", id, err)}
	}
	x.used[id] = u.At
	if _, ok := x.keys[id]; !ok {
		return outcome{err: fmt.Errorf("registry: use of %q: %w", id, ErrKeyNotFound)}
	}
	return outcome{}
}

// repairKeyUses deletes use records that outlived their key: left by a
// process that died between a revocation's two tombstones, or whose
// deletion of a late use record failed. Deleting one twice is harmless.
func (s *Store) repairKeyUses(ctx context.Context) {
	x := s.cur.Load()
	for id := range x.used {
		if _, live := x.keys[id]; live || ctx.Err() != nil {
			continue
		}
		s.log.Info("registry: deleting the use record of a revoked API key", zap.String("key", id))
		if _, err := s.write(ctx, keyUsePrefix+id, nil); err != nil {
			s.log.Warn("registry: deleting a revoked key's use record failed; the next Open retries", zap.String("key", id), zap.Error(err))
		}
	}
}
