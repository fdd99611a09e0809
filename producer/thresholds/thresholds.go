// Package thresholds fires project.budget_threshold events exactly once per
// project and configured percentage. A threshold re-arms when the project's
// allocated hours change, or when it is removed from the configured list and
// added again. State lives in Redis and every check is one Lua script, so
// concurrent callers (several service replicas handling time entries of the
// same project) agree on who fires.
//
// Firing is claim, publish, confirm: a caller that crashes between claim and
// confirm leaves a lease that expires, after which the next check fires
// again with the same eventId, so receivers dedupe the rare repeat.
package thresholds

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookline/hookline/producer"
	"github.com/redis/go-redis/v9"
)

//go:embed claim.lua
var claimLua string

var claimScript = redis.NewScript(claimLua)

// DefaultLease is how long a claimed threshold waits for Confirm before
// another caller may fire it.
const DefaultLease = 30 * time.Second

// Publisher is what Tracker needs of a producer.
type Publisher interface {
	Publish(ctx context.Context, ev producer.Event) (producer.Published, error)
}

// Tracker decides which thresholds fire. The zero value is not usable; use New.
type Tracker struct {
	rdb    redis.Cmdable
	prefix string
	lease  time.Duration
	now    func() time.Time
}

// Options configures a Tracker.
type Options struct {
	// Prefix namespaces the Redis keys. Default "hookline:thresholds:".
	Prefix string
	// Lease bounds a claim without Confirm. Default 30 s.
	Lease time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// New returns a Tracker on rdb.
func New(rdb redis.Cmdable, o Options) *Tracker {
	t := &Tracker{rdb: rdb, prefix: o.Prefix, lease: o.Lease, now: o.Now}
	if t.prefix == "" {
		t.prefix = "hookline:thresholds:"
	}
	if t.lease <= 0 {
		t.lease = DefaultLease
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Budget is a project's state at a check.
type Budget struct {
	TenantID       string
	ProjectID      string
	AllocatedHours float64
	UsedHours      float64
	// Thresholds are the configured percentages, e.g. 50, 80, 100.
	Thresholds []float64
	// Project is the project object for the event's data.project; its "id"
	// is set to ProjectID when absent.
	Project map[string]any
}

// UsedPercent is used/allocated as a percentage (0 when nothing allocated).
func (b Budget) UsedPercent() float64 {
	if b.AllocatedHours <= 0 {
		return 0
	}
	return b.UsedHours / b.AllocatedHours * 100
}

// Claim is a threshold this caller must fire.
type Claim struct {
	Threshold float64
	// EventID is stable for this arming of the threshold.
	EventID string
}

func (t *Tracker) key(tenant, project string) string {
	return t.prefix + "{" + tenant + "/" + project + "}"
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Claim records the budget and returns the thresholds that are crossed and
// not yet fired (or whose earlier claim expired). The caller publishes each
// and calls Confirm, or Release on failure.
func (t *Tracker) Claim(ctx context.Context, b Budget) ([]Claim, error) {
	if b.TenantID == "" || b.ProjectID == "" {
		return nil, errors.New("thresholds: TenantID and ProjectID are required")
	}
	now := t.now().UnixMilli()
	args := []any{fmtNum(b.AllocatedHours), fmtNum(b.UsedPercent()), now, now + t.lease.Milliseconds()}
	for _, th := range b.Thresholds {
		args = append(args, fmtNum(th))
	}
	res, err := claimScript.Run(ctx, t.rdb, []string{t.key(b.TenantID, b.ProjectID)}, args...).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("thresholds: claim %s/%s: %w", b.TenantID, b.ProjectID, err)
	}
	var out []Claim
	for i := 0; i+1 < len(res); i += 2 {
		th, _ := strconv.ParseFloat(res[i], 64)
		out = append(out, Claim{Threshold: th, EventID: fmt.Sprintf("project:%s:budget_threshold:%s:%s", b.ProjectID, res[i], res[i+1])})
	}
	return out, nil
}

// Confirm marks a claimed threshold as fired.
func (t *Tracker) Confirm(ctx context.Context, tenant, project string, threshold float64) error {
	if err := t.rdb.HSet(ctx, t.key(tenant, project), "s:"+fmtNum(threshold), "fired").Err(); err != nil {
		return fmt.Errorf("thresholds: confirm: %w", err)
	}
	return nil
}

// Release gives a claim back so the next check fires it.
func (t *Tracker) Release(ctx context.Context, tenant, project string, threshold float64) error {
	if err := t.rdb.HDel(ctx, t.key(tenant, project), "s:"+fmtNum(threshold)).Err(); err != nil {
		return fmt.Errorf("thresholds: release: %w", err)
	}
	return nil
}

// Check claims, publishes and confirms every threshold b has crossed, and
// returns the events published. On a publish error the claim is released
// and the error returned; thresholds published before it stay fired.
func (t *Tracker) Check(ctx context.Context, p Publisher, b Budget) ([]producer.Published, error) {
	claims, err := t.Claim(ctx, b)
	if err != nil {
		return nil, err
	}
	var out []producer.Published
	for i, c := range claims {
		project := make(map[string]any, len(b.Project)+1)
		for k, v := range b.Project {
			project[k] = v
		}
		if _, ok := project["id"]; !ok {
			project["id"] = b.ProjectID
		}
		ev := producer.Event{
			Type: "project.budget_threshold", EventID: c.EventID, TenantID: b.TenantID,
			Data: map[string]any{
				"project": project, "threshold": c.Threshold, "usedPercent": b.UsedPercent(),
				"usedHours": b.UsedHours, "allocatedHours": b.AllocatedHours,
			},
		}
		pub, err := p.Publish(ctx, ev)
		if err != nil {
			for _, rest := range claims[i:] {
				_ = t.Release(ctx, b.TenantID, b.ProjectID, rest.Threshold)
			}
			return out, fmt.Errorf("thresholds: publish %s: %w", c.EventID, err)
		}
		if err := t.Confirm(ctx, b.TenantID, b.ProjectID, c.Threshold); err != nil {
			return out, err
		}
		out = append(out, pub)
	}
	return out, nil
}
