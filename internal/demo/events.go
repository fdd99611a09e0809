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
