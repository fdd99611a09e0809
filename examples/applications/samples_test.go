package examples

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/producer"
)

// Application ids of the files in this directory.
const (
	studioID     = "momentum-studio"
	proID        = "momentumpro"
	enterpriseID = "momentus-connect-enterprise"
	eliteID      = "momentus-connect-elite"
	eventsID     = "momentum-events"
	momentID     = "moment"
)

// event is an event of application app's type typ whose object has id n:
// the data is drawn from the product's document (its sample payload where
// it gives one), so it passes the application's catalog. Object ids are
// the decimal n in every product, which lets a test that runs them all
// tell from an id alone which application an event came from.
func event(app, typ string, n int) producer.Event {
	return producer.Event{Type: typ, TenantID: "t-1", Application: app, Data: sampleData(app, typ, n)}
}

func sampleData(app, typ string, n int) map[string]any {
	switch app {
	case studioID:
		return studioData(typ, strconv.Itoa(n))
	case proID:
		return proData(typ, n)
	case enterpriseID, eliteID:
		return map[string]any{
			"account": map[string]any{"id": strconv.Itoa(n), "name": "Harbour Hall", "accountNumber": "A-" + strconv.Itoa(n), "status": "active"},
			"before":  map[string]any{"id": strconv.Itoa(n), "name": "Harbour hall", "status": "active"},
		}
	case eventsID:
		return eventsData(typ, strconv.Itoa(n))
	case momentID:
		return momentData(typ, n)
	}
	panic("no samples for application " + app)
}

// studioWrite is the time of a sample's write: the producer derives a
// Studio eventId from it, "task:<id>:<updatedUtc>", as the document's
// example eventId reads.
const studioWrite = "2026-04-30T14:22:01.234Z"

// studioData follows the envelope's data rules: the object under its
// name, the previous one in before on update events.
func studioData(typ, id string) map[string]any {
	switch envelope.ObjectName(typ) {
	case "task":
		d := map[string]any{"task": map[string]any{"id": id, "title": "Ducts level " + id, "status": "Done", "projectId": "p-7", "assigneeId": nil, "updatedUtc": studioWrite}}
		if envelope.IsUpdate(typ) {
			d["before"] = map[string]any{"id": id, "title": "Ducts level " + id, "status": "Open", "projectId": "p-7"}
		}
		return d
	case "project":
		project := map[string]any{"id": id, "name": "Tower B", "allocatedHours": 120, "modelerIds": []any{"m-1", "m-2"}, "updatedUtc": studioWrite}
		d := map[string]any{"project": project}
		switch typ {
		case "project.updated":
			d["before"] = map[string]any{"id": id, "name": "Tower B", "allocatedHours": 100}
		case "project.budget_threshold":
			d["threshold"], d["usedPercent"], d["usedHours"], d["allocatedHours"] = 80, 81.5, 97.8, 120
		}
		return d
	}
	member := map[string]any{"id": id, "email": "ana@example.com", "name": "Ana", "role": "modeler"}
	if typ == "member.data_deletion_requested" {
		return map[string]any{"member": member, "requestId": "req-" + id, "requesterEmail": "ana@example.com", "reason": "leaving the firm"}
	}
	return map[string]any{"member": member}
}

// proData puts the object the body's data will be under its name; the
// leave object is the document's sample but for its id.
func proData(typ string, n int) map[string]any {
	const at = "2026-04-29T14:32:11Z"
	var o map[string]any
	switch typ {
	case "employee.created", "employee.updated":
		o = map[string]any{"name": "Kari Nordmann", "email": "kari@example.com", "department": "Operations", "hire_date": "2024-02-01", "status": "active"}
	case "employee.terminated":
		o = map[string]any{"name": "Kari Nordmann", "terminated_on": "2026-04-30", "reason": "resigned"}
	case "attendance.clock_in":
		o = map[string]any{"employee_id": 45, "clock_in": at, "clock_out": nil}
	case "attendance.clock_out":
		o = map[string]any{"employee_id": 45, "clock_in": at, "clock_out": "2026-04-29T22:02:00Z"}
	case "attendance.exception":
		o = map[string]any{"employee_id": 45, "clock_in": at, "exception": "missed_clock_out"}
	case "leave.requested", "leave.approved", "leave.rejected":
		o = map[string]any{"employee_id": 45, "leave_type": "Annual", "from": "2026-05-10", "to": "2026-05-14", "days": 5}
		switch typ {
		case "leave.approved":
			o["approved_by"] = 12
		case "leave.rejected":
			o["rejected_by"], o["reason"] = 12, "peak season"
		}
	case "expense.submitted", "expense.approved", "expense.paid":
		o = map[string]any{"employee_id": 45, "amount": 129.5, "currency": "NOK", "category": "travel", "submitted_at": at}
		o["approved_by"], o["paid_at"] = 12, at
	case "po.issued", "po.received", "po.invoiced":
		o = map[string]any{"po_number": "PO-" + strconv.Itoa(n), "supplier_id": 7, "amount": 5400, "currency": "EUR", "issued_at": at}
		o["received_at"], o["invoice_id"] = at, 88
	case "incident.reported", "incident.closed":
		o = map[string]any{"title": "Forklift collision", "severity": "high", "reported_by": 45, "reported_at": at}
		o["closed_at"], o["closed_by"] = at, 12
	case "payroll.locked", "payroll.published":
		o = map[string]any{"period_start": "2026-04-01", "period_end": "2026-04-30", "employee_count": 212}
		o["locked_by"], o["published_at"] = 12, at
	default:
		panic("no sample for " + typ)
	}
	o["id"] = n
	d := map[string]any{envelope.ObjectName(typ): o}
	if typ == "employee.updated" {
		d["before"] = map[string]any{"id": n, "name": "Kari Nordman"}
	}
	return d
}

// eventsData is one reporting record under its class's name, the way the
// body wraps it in {"msys": ...}.
func eventsData(typ, id string) map[string]any {
	class, kind, _ := strings.Cut(typ, ".")
	rec := map[string]any{"id": id, "type": kind, "message_id": "0e0d94b7-9085-4e3c-ab30", "transmission_id": "65832150921904138",
		"rcpt_to": "recipient@example.com", "timestamp": "1454442600"}
	if class == "track_event" {
		rec["user_agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) Version/7.0.5 Safari/537.77.4"
		if kind == "click" {
			rec["target_link_url"] = "https://example.com/offer"
		}
	}
	return map[string]any{class: rec}
}

// momentData is {event, <object>: ids}; the invoice is the document's
// sample but for its id.
func momentData(typ string, n int) map[string]any {
	customer := map[string]any{"id": 62788973, "customerNumber": "10001"}
	project := map[string]any{"id": 62788980, "projectNumber": "1"}
	object := envelope.ObjectName(typ)
	var o map[string]any
	switch object {
	case "invoice":
		o = map[string]any{"invoiceNumber": 1, "customer": customer, "project": project}
	case "offer":
		o = map[string]any{"offerNumber": 14, "customer": customer, "project": project}
	case "customer":
		o = map[string]any{"customerNumber": "10001"}
	case "project":
		o = map[string]any{"projectNumber": "1", "customer": customer}
	case "claim":
		o = map[string]any{"claimNumber": 3, "user": map[string]any{"id": 5521}, "project": project}
	default:
		panic(fmt.Sprintf("no sample for %s", typ))
	}
	o["id"] = n
	ev := "CREATE_NEW"
	if typ == "offer.decided" {
		ev = "ACCEPTED"
	}
	return map[string]any{"event": ev, object: o}
}
