// Package demo drives `hookline dev --demo`: two applications side by
// side (Momentum Studio, whose catalog is the built-in one of tasks,
// projects and members, and Momentumpro, an HR product of employees,
// leave and expenses), a generator of each one's events across a few
// tenants, and a receiver per application that verifies every delivery
// the way that application's documentation tells its customers to, and
// counts what arrived.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hookline/hookline/internal/envelope"
)

// Tenants are the demo workspaces.
var Tenants = []string{"t-acme", "t-globex", "t-initech"}

var statuses = []string{"Todo", "In progress", "Review", "Done"}

// Generator makes plausible events of every built-in type: Momentum
// Studio's. Not safe for concurrent use.
type Generator struct {
	rng  *rand.Rand
	seed uint64
	seq  int
	// Origin is set on every event ("" for none).
	Origin string
	// Application is set on every event ("" for none: the default
	// application's, as the benchmarks publish them).
	Application string
}

// NewGenerator returns a generator with a fixed seed, so runs repeat.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed}
}

// Next returns a new event; eventId and createdUtc are left for the producer.
// Every event is a write of its own: its Version (the generator's seed and
// sequence number) makes the producer's derived eventId unique.
func (g *Generator) Next() envelope.Envelope {
	g.seq++
	tenant := Tenants[g.rng.IntN(len(Tenants))]
	e := envelope.Envelope{TenantID: tenant, Origin: g.Origin, Application: g.Application, Version: fmt.Sprintf("v%x.%d", g.seed, g.seq)}
	n := g.rng.IntN(100)
	switch {
	case n < 30:
		e.Type, e.Data = "task.updated", g.taskUpdate(tenant)
	case n < 45:
		e.Type, e.Data = "task.created", map[string]any{"task": g.task(tenant)}
	case n < 50:
		e.Type, e.Data = "task.deleted", map[string]any{"task": map[string]any{"id": g.id("task")}}
	case n < 60:
		p := g.project(tenant)
		before := copyMap(p)
		before["allocatedHours"] = 100
		e.Type, e.Data = "project.updated", map[string]any{"project": p, "before": before}
	case n < 70:
		e.Type, e.Data = "project.created", map[string]any{"project": g.project(tenant)}
	case n < 73:
		e.Type, e.Data = "project.deleted", map[string]any{"project": map[string]any{"id": g.id("proj")}}
	case n < 85:
		p := g.project(tenant)
		e.Type, e.Data = "project.budget_threshold", map[string]any{
			"project": p, "threshold": 80, "usedPercent": 81.5, "usedHours": 97.8, "allocatedHours": 120,
		}
	case n < 95:
		e.Type, e.Data = "member.joined", map[string]any{"member": g.member()}
	default:
		e.Type, e.Data = "member.data_deletion_requested", map[string]any{
			"member": g.member(), "requestId": g.id("req"), "requesterEmail": "privacy@example.com", "reason": "account closure",
		}
	}
	return e
}

func (g *Generator) id(prefix string) string {
	return fmt.Sprintf("%s_%06d", prefix, g.rng.IntN(1_000_000))
}

func (g *Generator) task(tenant string) map[string]any {
	return map[string]any{
		"id":         g.id("task"),
		"tenantId":   tenant, // stripped by the producer: the tenant is on the envelope
		"title":      fmt.Sprintf("Model level %d ducts", g.rng.IntN(20)),
		"status":     statuses[g.rng.IntN(len(statuses))],
		"projectId":  g.id("proj"),
		"assigneeId": g.id("user"),
		"dueDate":    "2026-12-01",
		"updatedUtc": "2026-11-22T10:00:00.000Z",
	}
}

func (g *Generator) taskUpdate(tenant string) map[string]any {
	after := g.task(tenant)
	before := copyMap(after)
	// Most updates are status flips; some only touch a noisy field.
	if g.rng.IntN(4) == 0 {
		before["updatedUtc"] = "2026-11-21T09:00:00.000Z"
	} else {
		before["status"] = "Todo"
		after["status"] = "Done"
	}
	return map[string]any{"task": after, "before": before}
}

func (g *Generator) project(tenant string) map[string]any {
	return map[string]any{
		"id":             g.id("proj"),
		"tenantId":       tenant,
		"name":           fmt.Sprintf("Hospital wing %c", 'A'+rune(g.rng.IntN(26))),
		"allocatedHours": 120,
		"modelerIds":     []any{g.id("user"), g.id("user")},
	}
}

func (g *Generator) member() map[string]any {
	id := g.id("user")
	return map[string]any{"id": id, "email": id + "@example.com", "name": "Demo " + id, "role": "modeler"}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// HRGenerator makes plausible Momentumpro events: employees, leave and
// expenses. Each event's data holds one object named after its type's
// first segment ({"leave": {...}}), as the producer's record key and the
// legacy body need: the legacy shape sends that object as data, which is
// the document's example ({"id": 123, "employee_id": 45, ...}). Ids are
// integers, as in that example. Not safe for concurrent use.
type HRGenerator struct {
	rng  *rand.Rand
	seed uint64
	seq  int
	// Application is set on every event.
	Application string
}

// NewHRGenerator returns a generator with a fixed seed, so runs repeat.
func NewHRGenerator(seed uint64) *HRGenerator {
	return &HRGenerator{rng: rand.New(rand.NewPCG(seed, seed^0x94d049bb133111eb)), seed: seed, Application: MomentumproID}
}

var (
	departments = []string{"Engineering", "Finance", "Operations", "Sales"}
	positions   = []string{"Analyst", "Engineer", "Manager", "Technician"}
	leaveTypes  = []string{"Annual", "Sick", "Parental", "Unpaid"}
	categories  = []string{"Travel", "Meals", "Equipment", "Training"}
	currencies  = []string{"EUR", "NOK", "USD"}
	// hrEpoch is the first day dates are drawn from.
	hrEpoch = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
)

// Next returns a new event; eventId and createdUtc are left for the
// producer, which derives a unique eventId from Version as for Generator.
func (g *HRGenerator) Next() envelope.Envelope {
	g.seq++
	tenant := Tenants[g.rng.IntN(len(Tenants))]
	e := envelope.Envelope{TenantID: tenant, Application: g.Application, Version: fmt.Sprintf("v%x.%d", g.seed, g.seq)}
	switch n := g.rng.IntN(100); {
	case n < 15:
		id := g.id()
		e.Type, e.Data = "employee.created", map[string]any{"employee": map[string]any{
			"id": id, "name": fmt.Sprintf("Employee %d", id), "email": fmt.Sprintf("employee%d@example.com", id),
			"department": pick(g.rng, departments), "position": pick(g.rng, positions), "hired_on": g.date(),
		}}
	case n < 20:
		e.Type, e.Data = "employee.terminated", map[string]any{"employee": map[string]any{
			"id": g.id(), "terminated_on": g.date(), "reason": "resigned",
		}}
	case n < 45:
		e.Type, e.Data = "leave.requested", map[string]any{"leave": g.leave()}
	case n < 65:
		l := g.leave()
		l["approved_by"] = g.id()
		e.Type, e.Data = "leave.approved", map[string]any{"leave": l}
	case n < 90:
		e.Type, e.Data = "expense.submitted", map[string]any{"expense": map[string]any{
			"id": g.id(), "employee_id": g.id(), "amount": g.amount(), "currency": pick(g.rng, currencies),
			"category": pick(g.rng, categories), "submitted_on": g.date(),
		}}
	default:
		e.Type, e.Data = "expense.paid", map[string]any{"expense": map[string]any{
			"id": g.id(), "employee_id": g.id(), "amount": g.amount(), "currency": pick(g.rng, currencies), "paid_on": g.date(),
		}}
	}
	return e
}

func (g *HRGenerator) id() int { return 1 + g.rng.IntN(99_999) }

// date is a day within two months of hrEpoch.
func (g *HRGenerator) date() string {
	return hrEpoch.AddDate(0, 0, g.rng.IntN(60)).Format(time.DateOnly)
}

func (g *HRGenerator) amount() float64 { return float64(100+g.rng.IntN(250_000)) / 100 }

// leave is a request of 1 to 10 days, to counting as the last day off.
func (g *HRGenerator) leave() map[string]any {
	days := 1 + g.rng.IntN(10)
	from := hrEpoch.AddDate(0, 0, g.rng.IntN(60))
	return map[string]any{
		"id": g.id(), "employee_id": g.id(), "leave_type": pick(g.rng, leaveTypes),
		"from": from.Format(time.DateOnly), "to": from.AddDate(0, 0, days-1).Format(time.DateOnly), "days": days,
	}
}

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }
