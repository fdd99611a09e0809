package registry

import (
	"fmt"
	"strings"
)

// What loading an endpoints file does to one endpoint.
const (
	// ActionCreate: the file lists an id the registry does not hold.
	ActionCreate = "create"
	// ActionUpdate: an endpoint the file manages differs from it.
	ActionUpdate = "update"
	// ActionTakeOver: the file lists the id of an endpoint it does not
	// manage yet (one created through the API, or loaded by a hookline
	// that only bootstrapped from the file and marked nothing). The file
	// takes it over: it is updated to match and from then on is the
	// file's. API ids are generated, never chosen, so a file naming one
	// is an operator's deliberate choice; and refusing would stop every
	// deployment whose registry was filled by the old bootstrap.
	ActionTakeOver = "take over"
	// ActionDelete: an endpoint the file managed and no longer lists.
	ActionDelete = "delete"
)

// FileChange is one difference between an endpoints file and the
// registry.
type FileChange struct {
	Action   string
	ID       string
	TenantID string
	// Fields names the fields an update or take-over changes, as the file
	// spells them ("secrets", "url"); never their values.
	Fields []string
}

// verbs are each action's done and dry-run wording.
var verbs = map[string]struct{ done, would string }{
	ActionCreate:   {"created", "would create"},
	ActionUpdate:   {"updated", "would update"},
	ActionTakeOver: {"took over", "would take over"},
	ActionDelete:   {"deleted", "would delete"},
}

// Line is the change as one plain line: what was done, or with dry what
// would be.
func (c FileChange) Line(dry bool) string {
	verb := verbs[c.Action].done
	if dry {
		verb = verbs[c.Action].would
	}
	line := fmt.Sprintf("%s endpoint %s (tenant %s)", verb, c.ID, c.TenantID)
	switch c.Action {
	case ActionUpdate:
		line += ": " + strings.Join(c.Fields, ", ")
	case ActionTakeOver:
		line += ", not yet managed by the file"
		if len(c.Fields) > 0 {
			line += ": " + strings.Join(c.Fields, ", ")
		} else {
			line += "; no field differs"
		}
	case ActionDelete:
		line += ", no longer in the file"
	}
	return line
}

// FilePlan is what loading an endpoints file changes, or would change.
type FilePlan struct {
	Changes []FileChange
	// Unchanged counts the file's endpoints the registry already matched.
	Unchanged int
}

// Count is how many changes of action p holds.
func (p FilePlan) Count(action string) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == action {
			n++
		}
	}
	return n
}

// Summary is the plan in one plain line, after its changes' lines.
func (p FilePlan) Summary(file string, dry bool) string {
	counts := fmt.Sprintf("%d created, %d updated, %d taken over, %d deleted, %d unchanged",
		p.Count(ActionCreate), p.Count(ActionUpdate), p.Count(ActionTakeOver), p.Count(ActionDelete), p.Unchanged)
	if dry {
		counts = fmt.Sprintf("would create %d, update %d, take over %d, delete %d; %d unchanged; nothing written",
			p.Count(ActionCreate), p.Count(ActionUpdate), p.Count(ActionTakeOver), p.Count(ActionDelete), p.Unchanged)
	}
	return "endpoints file " + file + ": " + counts
}
