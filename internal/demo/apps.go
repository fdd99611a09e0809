package demo

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/schemas"
)

// The demo's application ids: what events carry in "application" and
// endpoints name.
const (
	MomentumStudioID = "momentum-studio"
	MomentumproID    = "momentumpro"
)

// Source makes one application's events.
type Source interface {
	Next() envelope.Envelope
}

// App is one application of the demo: the registry entity dev registers
// through the API (catalog and dialect), the rules its receiver holds
// deliveries to, and a generator of its events.
//
// Application and Rules say the same things twice on purpose: the dialect
// is how hookline is told to speak, the rules are what the application's
// documentation promises its customers, written out from that document.
// A dialect that drifted from the document fails at the receiver.
type App struct {
	Application applications.Application
	Rules       Rules
	NewSource   func(seed uint64) Source
}

// Apps returns the demo's applications, Momentum Studio first.
func Apps() ([]*App, error) {
	studio, err := MomentumStudio()
	if err != nil {
		return nil, err
	}
	pro, err := Momentumpro()
	if err != nil {
		return nil, err
	}
	return []*App{studio, pro}, nil
}

// MomentumStudio is the task, project and member product. Its catalog is
// the embedded schemas (schemas.FS), the nine types Generator makes.
// Deliveries are batched (up to 100 events or 2 s, the demo's pace) and
// carry X-Momentum-Event, -Delivery, -Signature (sha256=<hex>) and
// -Timestamp with User-Agent Momentum-Webhook/1.0; a POST times out after
// 10 s. Its document's retry schedule is not given in full, so the
// deployment's tiers retry it, after any non-2xx answer.
func MomentumStudio() (*App, error) {
	types, err := eventTypes(schemas.FS, "events")
	if err != nil {
		return nil, fmt.Errorf("momentum studio catalog: %w", err)
	}
	return &App{
		Application: applications.Application{
			ID: MomentumStudioID, Name: "Momentum Studio",
			Description: "Tasks, projects and members of a Momentum workspace (Studio plan).",
			Dialect: endpoints.Dialect{
				HeaderPrefix: "X-Momentum", UserAgent: "Momentum-Webhook/1.0",
				Scheme: endpoints.SchemeHookline, SignatureFormat: endpoints.SignatureSHA256,
				MaxItems: 100, MaxWait: endpoints.Duration(2 * time.Second),
				Timeout: endpoints.Duration(10 * time.Second), RetryPolicy: "any",
			},
			EventTypes: types,
		},
		Rules: Rules{Application: MomentumStudioID, Types: typeNames(types), HeaderPrefix: "X-Momentum",
			UserAgent: "Momentum-Webhook/1.0", Verify: VerifyMomentum, Strict: true},
		NewSource: func(seed uint64) Source {
			g := NewGenerator(seed)
			g.Application = MomentumStudioID
			return g
		},
	}, nil
}

//go:embed momentumpro/*.schema.json
var momentumproFS embed.FS

// Momentumpro is the HR product. One event per POST, its body
// {event, occurred_at, data} (the legacy shape), signed with the bare hex
// HMAC in X-Momentumpro-Signature beside X-Momentumpro-Timestamp, which
// receivers refuse when more than 5 minutes old. It retries on 5xx and
// timeouts only, after 1 m, 5 m, 30 m, 2 h and 12 h, then drops the
// event. Its document names no User-Agent or timeout: the defaults apply.
func Momentumpro() (*App, error) {
	types, err := eventTypes(momentumproFS, "momentumpro")
	if err != nil {
		return nil, fmt.Errorf("momentumpro catalog: %w", err)
	}
	var schedule []endpoints.Duration
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 12 * time.Hour} {
		schedule = append(schedule, endpoints.Duration(d))
	}
	return &App{
		Application: applications.Application{
			ID: MomentumproID, Name: "Momentumpro",
			Description: "Employees, leave and expenses of a Momentumpro tenant.",
			Dialect: endpoints.Dialect{
				HeaderPrefix: "X-Momentumpro", Scheme: endpoints.SchemeHookline, SignatureFormat: endpoints.SignatureHex,
				Payload: &payload.Spec{Shape: payload.ShapeLegacy}, MaxItems: 1,
				RetrySchedule: schedule, RetryPolicy: "5xx",
			},
			EventTypes: types,
		},
		Rules: Rules{Application: MomentumproID, Types: typeNames(types), HeaderPrefix: "X-Momentumpro",
			Verify: VerifyMomentumpro, MaxAge: 5 * time.Minute, Legacy: true, Strict: true},
		NewSource: func(seed uint64) Source { return NewHRGenerator(seed) },
	}, nil
}

// VerifyMomentum is Momentum Studio's sample verifier: a header is
// required, and must equal "sha256=" and the hex HMAC-SHA256 of the raw
// body keyed with the secret, compared in constant time (hmac.Equal, as
// timingSafeEqual after a length check).
func VerifyMomentum(secret, body []byte, header string) bool {
	if header == "" {
		return false
	}
	expected := "sha256=" + hexHMAC(secret, body)
	return hmac.Equal([]byte(header), []byte(expected))
}

// VerifyMomentumpro is Momentumpro's sample verifier: the header must
// equal the bare hex HMAC-SHA256 of the body, compared in constant time
// (hmac.Equal, as compare_digest).
func VerifyMomentumpro(secret, body []byte, header string) bool {
	expected := hexHMAC(secret, body)
	return hmac.Equal([]byte(expected), []byte(header))
}

func hexHMAC(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// eventTypes reads dir's <type>.schema.json files, in name order, as
// version 1 of each type, described by the schema's own description.
func eventTypes(fsys fs.FS, dir string) ([]applications.EventType, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []applications.EventType
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".schema.json")
		if !ok || e.IsDir() {
			continue
		}
		raw, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var meta struct {
			Description string `json:"description"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, applications.EventType{Name: name, Description: meta.Description, Version: 1, Schema: raw})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *.schema.json in %s", dir)
	}
	return out, nil
}

func typeNames(types []applications.EventType) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = t.Name
	}
	return out
}
