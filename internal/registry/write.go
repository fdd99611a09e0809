package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// orphanWait is how long a write whose caller gave up keeps watching for
// its record, so that a record landing late is still corrected if it lost.
const orphanWait = time.Minute

// write appends one record and waits until the follower has applied it
// and published the result (read-your-writes).
func (s *Store) write(ctx context.Context, key string, value []byte) (outcome, error) {
	wid := s.writer + ":" + randomID("", 8)
	ch := make(chan outcome, 1)
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return outcome{}, fmt.Errorf("registry: write %s: %w", key, ErrClosed)
	}
	s.waiters[wid] = ch
	s.wmu.Unlock()
	rec := &kgo.Record{Topic: s.topic, Key: []byte(key), Value: value,
		Headers: []kgo.RecordHeader{{Key: writeHeader, Value: []byte(wid)}}}
	err := s.cl.ProduceSync(ctx, rec).FirstErr()
	if err == nil {
		select {
		case o := <-ch:
			return o, nil
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.ctx.Done():
			err = ErrClosed
		}
	}
	s.orphan(key, wid, ch, value == nil)
	return outcome{}, fmt.Errorf("registry: write %s: %w", key, err)
}

// orphan keeps waiting for a record whose writer stopped waiting: if it
// lands and lost, it is corrected like any other losing record.
func (s *Store) orphan(key, wid string, ch chan outcome, tombstone bool) {
	drop := func() {
		s.wmu.Lock()
		delete(s.waiters, wid)
		s.wmu.Unlock()
	}
	k, id := kindOf(key)
	s.wmu.Lock()
	if tombstone || k != kindEndpoint || s.closed {
		s.wmu.Unlock()
		drop()
		return
	}
	s.wg.Add(1)
	s.wmu.Unlock()
	go func() {
		defer s.wg.Done()
		defer drop()
		t := time.NewTimer(orphanWait)
		defer t.Stop()
		select {
		case o := <-ch:
			if o.err != nil {
				s.correct(id)
			}
		case <-t.C:
		case <-s.ctx.Done():
		}
	}()
}

// correct makes sure a record that lost is not its key's newest, so that
// compaction cannot keep it instead of the value that beat it: the live
// value is written again at the next version, or an id that is not live
// gets a tombstone.
func (s *Store) correct(id string) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	for range 20 {
		x := s.snapshot()
		if _, lost := x.rejected[id]; !lost {
			return
		}
		var err error
		switch e := x.entries[id]; {
		case e == nil:
			_, err = s.write(ctx, id, nil)
		case e.ep == nil:
			s.log.Error("registry: cannot correct a losing record: the live value's secrets do not open", zap.String("endpoint", id))
			return
		default:
			_, err = s.writeEndpoint(ctx, opUpdate, e.version+1, e.ep, e.source)
		}
		if err != nil {
			s.log.Warn("registry: correcting a losing record failed; the next Open repairs it", zap.String("endpoint", id), zap.Error(err))
			return
		}
	}
	s.log.Warn("registry: a losing record is still its key's newest after 20 corrections", zap.String("endpoint", id))
}

// repairStaleAfter: a losing record older than this is taken to be left
// by a writer that died before correcting it.
const repairStaleAfter = time.Minute

// repairStale corrects losing records that are their key's newest and old
// enough that their writer is gone.
func (s *Store) repairStale(ctx context.Context) {
	for id, r := range s.cur.Load().rejected {
		if time.Since(r.at) < repairStaleAfter || ctx.Err() != nil {
			continue
		}
		s.log.Warn("registry: repairing a losing record its writer left uncorrected", zap.String("endpoint", id), zap.String("writer", r.writer), zap.Time("written", r.at))
		s.correct(id)
	}
}

// errUnchanged from a change func: nothing to write.
var errUnchanged = errors.New("registry: unchanged")
