package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"go.uber.org/zap"
)

// sourceFile is the source of an endpoint record that an endpoints file
// created or took over: the file owns it, so a later load of the file
// updates it to match and deletes it once the file stops listing it.
const sourceFile = "file"

// fileManaged reports whether an endpoints file owns e: the one rule
// deciding what a load may delete and what it takes over.
func (e *entry) fileManaged() bool { return e.source == sourceFile }

// reasonFileDisabled is the DisabledReason of an endpoint the file turns
// off without giving a reason.
const reasonFileDisabled = "disabled in the endpoints file"

// PlanFile compares the endpoints a file declares with the registry and
// returns what ApplyFile would change, writing nothing. It fails, naming
// the endpoint, on what ApplyFile would refuse.
func (s *Store) PlanFile(eps []*endpoints.Endpoint) (FilePlan, error) {
	return plan(s.snapshot(), eps, time.Now())
}

// ApplyFile makes the registry match the endpoints a file declares: each
// is created, or updated until every field equals the file's (secrets
// included), and marked as the file's; endpoints an earlier load marked
// and that the file no longer lists are deleted. Endpoints created
// through the API are never touched unless the file lists their id (see
// FileChange). Each change and a summary naming file are logged, field
// names only. Several processes may apply the same file at once: the log
// orders their writes and each finds the others' done.
func (s *Store) ApplyFile(ctx context.Context, file string, eps []*endpoints.Endpoint) (FilePlan, error) {
	p, err := s.PlanFile(eps) // refuses a bad file before anything is written
	if err != nil {
		return FilePlan{}, err
	}
	var done FilePlan
	report := func(c FileChange) {
		done.Changes = append(done.Changes, c)
		fields := []zap.Field{zap.String("endpoint", c.ID), zap.String("tenant", c.TenantID)}
		if len(c.Fields) > 0 {
			fields = append(fields, zap.Strings("fields", c.Fields))
		}
		s.log.Info(c.Line(false), fields...)
	}
	// Deletes first: they free names the file may give to others.
	for _, c := range p.Changes {
		if c.Action != ActionDelete {
			continue
		}
		if e := s.snapshot().entries[c.ID]; e == nil || !e.fileManaged() {
			continue // deleted or taken back meanwhile
		}
		if err := s.Delete(ctx, c.ID); err != nil && !errors.Is(err, endpoints.ErrNotFound) {
			return done, fmt.Errorf("endpoint %s: delete: %w", c.ID, err)
		}
		report(c)
	}
	// A rename onto a name another listed endpoint is giving up can meet
	// it still taken: such endpoints go again once the others are written.
	pending := sortedByID(eps)
	for len(pending) > 0 {
		var again []*endpoints.Endpoint
		var lastErr error
		for _, want := range pending {
			c, changed, err := s.declare(ctx, want)
			switch {
			case errors.Is(err, ErrNameTaken):
				again, lastErr = append(again, want), err
			case err != nil:
				return done, fmt.Errorf("endpoint %s: %w", want.ID, err)
			case changed:
				report(c)
			default:
				done.Unchanged++
			}
		}
		if len(again) == len(pending) {
			return done, fmt.Errorf("endpoint %s: %w", again[0].ID, lastErr)
		}
		pending = again
	}
	s.log.Info(done.Summary(file, false), zap.String("file", file))
	return done, nil
}

// declare creates or updates one endpoint to the file's value and reports
// what it changed; changed is false when it already matched.
func (s *Store) declare(ctx context.Context, want *endpoints.Endpoint) (FileChange, bool, error) {
	c := FileChange{ID: want.ID, TenantID: want.TenantID}
	for range 5 {
		if s.snapshot().entries[want.ID] == nil {
			_, err := s.create(ctx, declared(want, nil, time.Now()), sourceFile)
			if errors.Is(err, ErrExists) {
				continue // another process created it first: compare with theirs
			}
			c.Action = ActionCreate
			return c, err == nil, err
		}
		changed := false
		_, err := s.updateEntry(ctx, want.ID, func(e *endpoints.Endpoint, source *string) error {
			d := declared(want, e, time.Now())
			fields, err := changedFields(e, d)
			if err != nil {
				return err
			}
			c.Action, c.Fields = ActionUpdate, fields
			if *source != sourceFile {
				c.Action = ActionTakeOver
			} else if len(fields) == 0 {
				changed = false
				return errUnchanged
			}
			*e, *source, changed = *d, sourceFile, true
			return nil
		}, true)
		if errors.Is(err, endpoints.ErrNotFound) {
			continue // deleted meanwhile: create it again
		}
		return c, changed, err
	}
	return c, false, fmt.Errorf("created and deleted by others while this load ran: %w", ErrConflict)
}

// plan is PlanFile on the index x at now.
func plan(x *index, eps []*endpoints.Endpoint, now time.Time) (FilePlan, error) {
	listed := map[string]bool{}
	for _, e := range eps {
		listed[e.ID] = true
	}
	if err := checkFileNames(x, eps, listed); err != nil {
		return FilePlan{}, err
	}
	var p FilePlan
	for _, id := range slices.Sorted(maps.Keys(x.entries)) {
		if e := x.entries[id]; e.fileManaged() && !listed[id] {
			p.Changes = append(p.Changes, FileChange{Action: ActionDelete, ID: id, TenantID: e.meta.TenantID})
		}
	}
	for _, want := range sortedByID(eps) {
		if err := checkID(want.ID); err != nil {
			return FilePlan{}, err
		}
		c := FileChange{ID: want.ID, TenantID: want.TenantID}
		cur := x.entries[want.ID]
		switch {
		case cur == nil:
			c.Action = ActionCreate
			p.Changes = append(p.Changes, c)
			continue
		case cur.meta.TenantID != want.TenantID:
			// Retries queued for the old tenant's events name the id: they
			// must never reach a URL another tenant declared.
			return FilePlan{}, fmt.Errorf("%w %q: the file gives tenant %q, the registry holds it for tenant %q, and an endpoint's tenant cannot change; give it a new id",
				endpoints.ErrInvalid, want.ID, want.TenantID, cur.meta.TenantID)
		case cur.ep == nil:
			return FilePlan{}, fmt.Errorf("endpoint %q: its secrets in the registry do not open with this keyring", want.ID)
		}
		fields, err := changedFields(cur.ep, declared(want, cur.ep, now))
		if err != nil {
			return FilePlan{}, err
		}
		switch c.Fields = fields; {
		case !cur.fileManaged():
			c.Action = ActionTakeOver
		case len(fields) > 0:
			c.Action = ActionUpdate
		default:
			p.Unchanged++
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// checkFileNames refuses a name given twice in a tenant by the file, or
// held by an endpoint the file does not list (which it may not touch).
func checkFileNames(x *index, eps []*endpoints.Endpoint, listed map[string]bool) error {
	seen := map[nameKey]string{}
	for _, e := range sortedByID(eps) {
		if e.Name == "" {
			continue
		}
		k := nameKey{e.TenantID, e.Name}
		if other, dup := seen[k]; dup {
			return fmt.Errorf("%w %q: name %q is also given to %q in tenant %q", endpoints.ErrInvalid, e.ID, e.Name, other, e.TenantID)
		}
		seen[k] = e.ID
		if holder, ok := x.names[k]; ok && holder != e.ID && !listed[holder] {
			return fmt.Errorf("endpoint %q: name %q in tenant %q is held by endpoint %s, which the file does not list: %w", e.ID, e.Name, e.TenantID, holder, ErrNameTaken)
		}
	}
	return nil
}

// declared is the value the file declares for an endpoint whose current
// value is cur (nil: none yet). The file states every field; the
// registry's timestamps are kept, a reason the file leaves out of a
// disabled endpoint keeps the one it was disabled for, and older secrets
// past their rotatedUntil are dropped as reads drop them.
func declared(want, cur *endpoints.Endpoint, now time.Time) *endpoints.Endpoint {
	d := clone(want)
	d.CreatedAt, d.UpdatedAt = time.Time{}, time.Time{}
	if cur != nil {
		d.CreatedAt, d.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
	}
	if d.Disabled && d.DisabledReason == "" {
		d.DisabledReason = reasonFileDisabled
		if cur != nil && cur.Disabled && cur.DisabledReason != "" {
			d.DisabledReason = cur.DisabledReason
		}
	}
	return trimmed(d, now)
}

// changedFields names the fields in which a and b differ, as the file
// spells them. Values are compared here and never leave: secrets and
// credentials are among them.
func changedFields(a, b *endpoints.Endpoint) ([]string, error) {
	fa, err := jsonFields(a)
	if err != nil {
		return nil, err
	}
	fb, err := jsonFields(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(fa)) {
		if !bytes.Equal(fa[k], fb[k]) {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fb)) {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// jsonFields is e's JSON object by field, without the timestamps the
// registry keeps.
func jsonFields(e *endpoints.Endpoint) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", e.ID, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", e.ID, err)
	}
	delete(m, "createdAt")
	delete(m, "updatedAt")
	return m, nil
}

func sortedByID(eps []*endpoints.Endpoint) []*endpoints.Endpoint {
	out := slices.Clone(eps)
	slices.SortFunc(out, func(a, b *endpoints.Endpoint) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
