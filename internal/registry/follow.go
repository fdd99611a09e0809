package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// errConflict: an update based on a version that is no longer the live
// one. The writer retries on the newer value; callers never see it.
var errConflict = errors.New("registry: write conflict")

// outcome is what the log decided about one write: nil err = applied.
type outcome struct {
	err     error
	version int64
}

// delivered pairs a write id with its outcome.
type delivered struct {
	id string
	o  outcome
}

// follow applies the topic to the table until Close. It reports on ready
// once it has read up to end (the log's end when Open was called); until
// then it publishes nothing, so secrets are opened only for the final
// value of each endpoint and superseded records sealed under retired keys
// never need their key.
func (s *Store) follow(end int64, ready chan<- error) {
	defer s.wg.Done()
	caught := end == 0
	if caught {
		ready <- nil
	}
	b := s.begin()
	for {
		fs := s.cl.PollFetches(s.ctx)
		if s.ctx.Err() != nil || fs.IsClientClosed() {
			if !caught {
				ready <- fmt.Errorf("registry: closed while catching up")
			}
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			s.log.Warn("registry fetch failed; retrying", zap.Int32("partition", p), zap.Error(err))
		})
		next := int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			b.apply(r)
			next = r.Offset + 1
		})
		if next < 0 {
			continue
		}
		if !caught {
			if next < end {
				continue // keep building; publish once caught up
			}
			if err := s.publish(b, true); err != nil {
				ready <- fmt.Errorf("registry: loading %s: %w", s.topic, err)
				return
			}
			caught = true
			ready <- nil
		} else {
			_ = s.publish(b, false)
		}
		b = s.begin()
	}
}

// builder applies a run of records to a copy of the table.
type builder struct {
	s     *Store
	prev  *index
	next  *index
	dirty map[string]bool // endpoint ids whose value changed
	outs  []delivered
}

// begin starts a builder from the current index.
func (s *Store) begin() *builder {
	prev := s.cur.Load()
	return &builder{s: s, prev: prev, next: prev.clone(), dirty: map[string]bool{}}
}

// publish opens the changed endpoints' secrets, swaps the index in and
// then tells writers what became of their records. strict (while
// loading) makes a secret that does not open an error; later it is
// logged and the endpoint keeps its previous secrets.
func (s *Store) publish(b *builder, strict bool) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	// A reader may have dropped expired secrets since begin; b.next still
	// holds them, and refresh sets expiry so the next read drops them again.
	now := time.Now()
	kr := s.kr.Load()
	for id := range b.dirty {
		e := b.next.entries[id]
		if e == nil {
			continue
		}
		open, err := openSecrets(kr, id, e.sealed)
		if err != nil {
			if strict {
				return err
			}
			s.log.Error("registry: cannot open an endpoint's secrets; keeping its previous ones", zap.String("endpoint", id), zap.Error(err))
			old := b.prev.entries[id]
			if old == nil || old.ep == nil {
				continue
			}
			open = sealed{Secrets: old.ep.Secrets, Auth: old.ep.Auth}
		}
		ep := *e.meta
		ep.AppDialect = b.next.dialectOf(ep.Application)
		ep.Secrets = open.Secrets
		if open.Auth != nil {
			ep.Auth = open.Auth
		}
		cp := *e
		cp.ep = trimmed(&ep, now)
		b.next.entries[id] = &cp
	}
	b.next.refresh(b.prev, b.dirty)
	s.cur.Store(b.next)
	s.wmu.Lock()
	for _, d := range b.outs {
		if ch, ok := s.waiters[d.id]; ok {
			ch <- d.o
			delete(s.waiters, d.id)
		}
	}
	s.wmu.Unlock()
	return nil
}

// apply decides one record.
func (b *builder) apply(r *kgo.Record) {
	wid := ""
	for _, h := range r.Headers {
		if h.Key == writeHeader {
			wid = string(h.Value)
		}
	}
	var o outcome
	k, id := kindOf(string(r.Key))
	switch k {
	case kindEndpoint:
		o = b.applyEndpoint(id, r, wid)
	case kindKeyUse:
		o = b.applyKeyUse(id, r.Value)
	case kindTenant:
		o = b.applyTenant(id, r.Value)
	case kindKey:
		o = b.applyKey(id, r.Value)
	case kindApp:
		o = b.applyApp(id, r.Value)
	default:
		b.s.log.Warn("registry: record with an unknown key skipped", zap.String("key", string(r.Key)), zap.Int64("offset", r.Offset))
	}
	if o.err != nil && !errors.Is(o.err, errConflict) && !errors.Is(o.err, ErrNameTaken) {
		b.s.log.Debug("registry: record not applied", zap.String("key", string(r.Key)), zap.Int64("offset", r.Offset), zap.Error(o.err))
	}
	if wid != "" {
		b.outs = append(b.outs, delivered{wid, o})
	}
}

// applyEndpoint applies an endpoint record if it still holds at its
// offset (see the package doc).
func (b *builder) applyEndpoint(id string, r *kgo.Record, wid string) outcome {
	x := b.next
	cur := x.entries[id]
	if r.Value == nil {
		if cur != nil {
			if cur.meta.Name != "" {
				delete(x.names, nameKey{cur.meta.TenantID, cur.meta.Name})
			}
			delete(x.entries, id)
			b.dirty[id] = true
		}
		x.gone[id] = true
		delete(x.rejected, id)
		return outcome{}
	}
	var rec endpointRecord
	if err := json.Unmarshal(r.Value, &rec); err != nil || rec.Endpoint == nil || rec.Endpoint.ID != id {
		return outcome{err: fmt.Errorf("registry: malformed endpoint record at offset %d: %v", r.Offset, err)}
	}
	e := rec.Endpoint
	lost := error(nil)
	switch {
	case rec.Op == opCreate && cur != nil:
		lost = ErrExists
	case rec.Op == opUpdate && cur == nil && x.gone[id]:
		lost = endpoints.ErrNotFound
	case rec.Op == opUpdate && cur != nil && rec.Version != cur.version+1:
		lost = errConflict
	case e.Name != "":
		if holder, ok := x.names[nameKey{e.TenantID, e.Name}]; ok && holder != id {
			lost = ErrNameTaken
		}
	}
	if lost != nil {
		writer, _, _ := strings.Cut(wid, ":")
		x.rejected[id] = rejection{writer: writer, at: r.Timestamp}
		return outcome{err: lost}
	}
	if cur != nil && cur.meta.Name != "" {
		delete(x.names, nameKey{cur.meta.TenantID, cur.meta.Name})
	}
	if e.Name != "" {
		x.names[nameKey{e.TenantID, e.Name}] = id
	}
	x.entries[id] = &entry{meta: e, sealed: rec.Sealed, version: rec.Version, source: rec.Source}
	delete(x.gone, id)
	delete(x.rejected, id)
	b.dirty[id] = true
	return outcome{version: rec.Version}
}

func (b *builder) applyTenant(id string, v []byte) outcome {
	if v == nil {
		delete(b.next.tenants, id)
		return outcome{}
	}
	var t Tenant
	if err := json.Unmarshal(v, &t); err != nil || t.ID != id {
		return outcome{err: fmt.Errorf("registry: malformed tenant record %q: %v", id, err)}
	}
	b.next.tenants[id] = t
	return outcome{}
}

func (b *builder) applyKey(id string, v []byte) outcome {
	x := b.next
	if old, ok := x.keys[id]; ok {
		delete(x.byHash, string(old.Hash))
		delete(x.keys, id)
	}
	if v == nil {
		return outcome{}
	}
	var k keyRecord
	if err := json.Unmarshal(v, &k); err != nil || k.ID != id || len(k.Hash) == 0 {
		return outcome{err: fmt.Errorf("registry: malformed api key record %q: %v", id, err)}
	}
	x.keys[id] = k
	x.byHash[string(k.Hash)] = id
	return outcome{}
}
