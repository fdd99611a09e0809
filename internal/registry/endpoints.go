package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hookline/hookline/internal/endpoints"
)

// maxUpdateAttempts bounds how often an update is reapplied to a newer
// value before it gives up with ErrConflict.
const maxUpdateAttempts = 50

// ErrConflict: an update lost to other writes maxUpdateAttempts times.
var ErrConflict = errors.New("registry: too many concurrent writes to one endpoint")

// Create adds e (an empty ID gets a random one) and returns the stored
// value once this Store has applied it. Of two creates of one name in a
// tenant, the one first in the log wins; the other gets ErrNameTaken.
func (s *Store) Create(ctx context.Context, in *endpoints.Endpoint) (*endpoints.Endpoint, error) {
	return s.create(ctx, in, "")
}

// create is Create for an endpoint managed by source.
func (s *Store) create(ctx context.Context, in *endpoints.Endpoint, source string) (*endpoints.Endpoint, error) {
	e := clone(in)
	if e.ID == "" {
		e.ID = randomID("ep_", 12)
	}
	now := time.Now().UTC()
	e.CreatedAt, e.UpdatedAt = now, now
	if err := checkID(e.ID); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	x := s.snapshot()
	if x.entries[e.ID] != nil {
		return nil, fmt.Errorf("registry: create %q: %w", e.ID, ErrExists)
	}
	if err := nameFree(x, e); err != nil {
		return nil, err
	}
	if err := checkSubscriptions(x, e); err != nil {
		return nil, err
	}
	o, err := s.writeEndpoint(ctx, opCreate, 1, e, source)
	if err != nil {
		return nil, err
	}
	if o.err != nil {
		s.correct(e.ID) // a tombstone, so the losing record never comes back
		return nil, fmt.Errorf("registry: create %q: %w", e.ID, o.err)
	}
	return s.published(e), nil
}

// Update applies change to a copy of the endpoint and writes the result
// if the endpoint has not changed meanwhile; otherwise change runs again
// on the newer value. change may thus run more than once and must not
// keep the pointer. ID, TenantID and CreatedAt cannot change.
func (s *Store) Update(ctx context.Context, id string, change func(*endpoints.Endpoint) error) (*endpoints.Endpoint, error) {
	return s.update(ctx, id, change, true)
}

// Disable turns the endpoint off with reason (a 410 from a dispatcher, or
// a user). An endpoint already disabled keeps its first reason.
func (s *Store) Disable(ctx context.Context, id, reason string) error {
	_, err := s.update(ctx, id, func(e *endpoints.Endpoint) error {
		if e.Disabled {
			return errUnchanged
		}
		e.Disabled, e.DisabledReason = true, reason
		return nil
	}, true)
	return err
}

// Rotate makes secret the endpoint's signing secret. With overlap > 0 the
// previous one stays in Secrets[1:] until RotatedUntil, after which reads
// drop it by themselves; with overlap 0 it is gone at once.
func (s *Store) Rotate(ctx context.Context, id, secret string, overlap time.Duration) (*endpoints.Endpoint, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w %q: secrets: the new secret is empty", endpoints.ErrInvalid, id)
	}
	until := time.Now().UTC().Add(overlap)
	return s.update(ctx, id, func(e *endpoints.Endpoint) error {
		if overlap > 0 {
			e.Secrets, e.RotatedUntil = []string{secret, e.Secrets[0]}, until
		} else {
			e.Secrets, e.RotatedUntil = []string{secret}, time.Time{}
		}
		return nil
	}, true)
}

// Delete removes the endpoint with a tombstone.
func (s *Store) Delete(ctx context.Context, id string) error {
	if s.snapshot().entries[id] == nil {
		return fmt.Errorf("registry: delete: %w: %q", endpoints.ErrNotFound, id)
	}
	_, err := s.write(ctx, id, nil)
	return err
}

// Rekey makes kr the Store's keyring and re-seals every endpoint whose
// secrets are sealed under another key than kr's first. kr must open all
// of them (list the old keys after the new one). Every process must hold
// the new key in its keyring before Rekey runs anywhere, or it can no
// longer read the rewritten secrets. It returns how many it rewrote.
func (s *Store) Rekey(ctx context.Context, kr *Keyring) (int, error) {
	if kr == nil || len(kr.keys) == 0 {
		return 0, fmt.Errorf("%w: rekey: empty keyring", ErrKeyring)
	}
	x := s.snapshot()
	ids := make([]string, 0, len(x.entries))
	for id, e := range x.entries {
		if _, err := openSecrets(kr, id, e.sealed); err != nil {
			return 0, fmt.Errorf("registry: rekey: the new keyring does not open every record: %w", err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.kr.Store(kr)
	first := kr.IDs()[0]
	n := 0
	for _, id := range ids {
		if e := s.snapshot().entries[id]; e == nil || sealedBy(e.sealed) == first {
			continue
		}
		_, err := s.update(ctx, id, func(*endpoints.Endpoint) error { return nil }, false)
		if errors.Is(err, endpoints.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("registry: rekey: %w", err)
		}
		n++
	}
	return n, nil
}

func (s *Store) update(ctx context.Context, id string, change func(*endpoints.Endpoint) error, touch bool) (*endpoints.Endpoint, error) {
	return s.updateEntry(ctx, id, func(e *endpoints.Endpoint, _ *string) error { return change(e) }, touch)
}

// updateEntry is update whose change may also set the record's source;
// every other write keeps the source the endpoint has, so an endpoint
// stays managed by its file through a 410, a PATCH or a rekey.
func (s *Store) updateEntry(ctx context.Context, id string, change func(e *endpoints.Endpoint, source *string) error, touch bool) (*endpoints.Endpoint, error) {
	for attempt := 1; ; attempt++ {
		x := s.snapshot()
		cur := x.entries[id]
		if cur == nil || cur.ep == nil {
			s.correct(id)
			return nil, fmt.Errorf("registry: update: %w: %q", endpoints.ErrNotFound, id)
		}
		e := clone(cur.ep)
		source := cur.source
		err := change(e, &source)
		if errors.Is(err, errUnchanged) {
			s.correct(id)
			return cur.ep, nil
		}
		if err == nil {
			err = checkUpdate(x, cur.ep, e)
		}
		if err != nil {
			s.correct(id)
			return nil, err
		}
		if touch {
			e.UpdatedAt = time.Now().UTC()
		}
		o, err := s.writeEndpoint(ctx, opUpdate, cur.version+1, e, source)
		if err != nil {
			return nil, err
		}
		switch {
		case o.err == nil:
			return s.published(e), nil
		case errors.Is(o.err, errConflict) && attempt < maxUpdateAttempts:
			continue // someone wrote first: apply change to their value
		case errors.Is(o.err, errConflict):
			s.correct(id)
			return nil, fmt.Errorf("registry: update %q: %w", id, ErrConflict)
		default:
			s.correct(id)
			return nil, fmt.Errorf("registry: update %q: %w", id, o.err)
		}
	}
}

// writeEndpoint seals e under the current keyring and writes it with
// its source.
func (s *Store) writeEndpoint(ctx context.Context, op string, version int64, e *endpoints.Endpoint, source string) (outcome, error) {
	v, _, err := encodeEndpoint(s.kr.Load(), op, version, e, source)
	if err != nil {
		return outcome{}, fmt.Errorf("registry: %w", err)
	}
	return s.write(ctx, e.ID, v)
}

// published returns the value the table holds for e's id, or e when a
// later write already removed it.
func (s *Store) published(e *endpoints.Endpoint) *endpoints.Endpoint {
	if p := s.Get(e.ID); p != nil {
		return p
	}
	return e
}

func checkUpdate(x *index, old, e *endpoints.Endpoint) error {
	if e.ID != old.ID || e.TenantID != old.TenantID {
		return fmt.Errorf("%w %q: id and tenantId cannot change", endpoints.ErrInvalid, old.ID)
	}
	e.CreatedAt = old.CreatedAt
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Application != old.Application || !slices.Equal(e.EventTypes, old.EventTypes) {
		if err := checkSubscriptions(x, e); err != nil {
			return err
		}
	}
	return nameFree(x, e)
}

// nameFree is the early answer; the log has the final one.
func nameFree(x *index, e *endpoints.Endpoint) error {
	if e.Name == "" {
		return nil
	}
	if holder, ok := x.names[nameKey{e.TenantID, e.Name}]; ok && holder != e.ID {
		return fmt.Errorf("registry: endpoint name %q in tenant %q: %w", e.Name, e.TenantID, ErrNameTaken)
	}
	return nil
}

// checkID keeps endpoint ids apart from the other record keys.
func checkID(id string) error {
	if len(id) > 128 || strings.Contains(id, "/") || strings.IndexFunc(id, unicode.IsSpace) >= 0 || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w %q: id: at most 128 bytes, no \"/\", spaces or control characters", endpoints.ErrInvalid, id)
	}
	return nil
}
