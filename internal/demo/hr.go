package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hookline/hookline/internal/envelope"
)

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
