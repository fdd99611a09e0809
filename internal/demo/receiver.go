package demo

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/signing"
)

// Rules are what a receiver holds each delivery to: the rules one
// application's webhook documentation gives its customers.
type Rules struct {
	// Application and Types: each event must name this application (where
	// the body carries it) and be of one of these types. Any other event
	// was routed to an endpoint of the wrong application: it is answered,
	// and counted as foreign. Empty: not checked.
	Application string
	Types       []string
	// HeaderPrefix names the -Signature, -Event, -Delivery and -Timestamp
	// headers ("" for X-Hookline).
	HeaderPrefix string
	// UserAgent every request must carry; "" for any.
	UserAgent string
	// Verify reports whether the signature header signs body under
	// secret, decided the way the documentation's sample verifier does,
	// in constant time.
	Verify func(secret, body []byte, header string) bool
	// MaxAge > 0 refuses a delivery whose timestamp header is more than
	// that old, or missing: the documentation's replay rule.
	MaxAge time.Duration
	// Legacy bodies are one {event, occurred_at, data} object per POST;
	// the others are an envelope or an array of envelopes.
	Legacy bool
	// Strict refuses (400, counted malformed) a body that is not the
	// documented shape and a request missing a documented header or with
	// another User-Agent. Off, a body that does not parse counts as a
	// delivery of no events, as a generic receiver takes any JSON.
	Strict bool
}

// HooklineRules are the default scheme's: sha256=<hex> in
// <prefix>-Signature ("" for X-Hookline), envelopes in any shape of body.
func HooklineRules(prefix string) Rules {
	return Rules{HeaderPrefix: prefix, Verify: func(secret, body []byte, header string) bool {
		return signing.VerifyHex(secret, body, header) == nil
	}}
}

// Receiver is a webhook endpoint that does what a careful downstream
// consumer does: read the raw body, verify the signature in constant time,
// check what its rules require, dedupe by delivery id and by event, and
// answer 2xx fast.
type Receiver struct {
	secret  []byte
	rules   Rules
	headers signing.Headers
	now     func() time.Time

	verified   atomic.Int64 // deliveries that passed every check
	rejected   atomic.Int64 // bad or missing signature
	stale      atomic.Int64 // timestamp missing or older than MaxAge
	malformed  atomic.Int64 // body or headers not as documented
	foreign    atomic.Int64 // events of another application, in verified deliveries
	events     atomic.Int64 // events in verified deliveries, duplicates included
	redelivery atomic.Int64 // verified deliveries whose id was seen before
	retried    atomic.Int64 // deliveries verified after FailEvery failed their first attempt

	// FailEvery > 0 answers 503 to the first attempt of every n-th
	// delivery, so the demo shows retries. Set before serving.
	FailEvery int

	mu         sync.Mutex
	firsts     int             // first attempts seen, for FailEvery
	failed     map[string]bool // by delivery id: whether its first attempt was failed
	deliveries map[string]struct{}
	eventIDs   map[string]struct{}
}

// NewReceiver verifies with secret and the default scheme's headers of
// prefix ("" for the default).
func NewReceiver(secret []byte, prefix string) *Receiver {
	return NewRulesReceiver(secret, HooklineRules(prefix))
}

// NewRulesReceiver verifies with secret and holds deliveries to rules.
func NewRulesReceiver(secret []byte, rules Rules) *Receiver {
	return &Receiver{secret: secret, rules: rules, headers: signing.HeadersFor(rules.HeaderPrefix), now: time.Now,
		deliveries: map[string]struct{}{}, eventIDs: map[string]struct{}{}, failed: map[string]bool{}}
}

// Stats is a snapshot of what the receiver saw.
type Stats struct {
	Verified, Rejected, Events, Redeliveries int64
	UniqueEvents                             int
	// Stale, Malformed and Foreign are zero while every delivery is as
	// its application documents it.
	Stale, Malformed, Foreign int64
	// Retried counts deliveries verified after FailEvery failed their
	// first attempt: the pipeline's retries at work.
	Retried int64
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	n := len(r.eventIDs)
	r.mu.Unlock()
	return Stats{Verified: r.verified.Load(), Rejected: r.rejected.Load(), Events: r.events.Load(),
		Redeliveries: r.redelivery.Load(), UniqueEvents: n,
		Stale: r.stale.Load(), Malformed: r.malformed.Load(), Foreign: r.foreign.Load(), Retried: r.retried.Load()}
}

// ServeHTTP implements http.Handler. The signature is checked first, on
// the raw body, before anything in the request is trusted.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if !r.rules.Verify(r.secret, body, req.Header.Get(r.headers.Signature)) {
		r.rejected.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.rules.MaxAge > 0 && !fresh(req.Header.Get(r.headers.Timestamp), r.now(), r.rules.MaxAge) {
		r.stale.Add(1)
		http.Error(w, "timestamp missing or more than "+r.rules.MaxAge.String()+" old", http.StatusUnauthorized)
		return
	}
	evs, pings, err := readBody(body, r.rules.Legacy)
	if err != nil && r.rules.Strict {
		r.malformed.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if pings {
		// A test ping of an endpoint being created: answered, not counted.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id := req.Header.Get(r.headers.Delivery)
	if r.rules.Strict {
		if why := r.checkHeaders(req.Header, evs); why != "" {
			r.malformed.Add(1)
			http.Error(w, why, http.StatusBadRequest)
			return
		}
	}
	if r.failFirst(id) {
		http.Error(w, "demo: failing this first attempt to show a retry", http.StatusServiceUnavailable)
		return
	}
	r.verified.Add(1)
	r.events.Add(int64(len(evs)))
	for _, e := range evs {
		if r.isForeign(e) {
			r.foreign.Add(1)
		}
	}
	r.mu.Lock()
	if _, seen := r.deliveries[id]; seen {
		r.redelivery.Add(1)
	} else if r.failed[id] {
		r.retried.Add(1)
	}
	r.deliveries[id] = struct{}{}
	for _, e := range evs {
		// A legacy body has no eventId; it holds one event, and the
		// delivery id, the same on every retry, stands for it.
		key := e.EventID
		if r.rules.Legacy {
			key = id
		}
		r.eventIDs[key] = struct{}{}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// failFirst reports whether to fail this attempt of delivery id: the
// first attempt of the first delivery and of every FailEvery-th after it.
// First attempts are counted on their own, so deliveries in flight or
// waiting for their retry do not shift which ones fail; a retry of a
// delivery failed once passes.
func (r *Receiver) failFirst(id string) bool {
	if r.FailEvery <= 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.failed[id]; seen {
		return false
	}
	fail := r.firsts%r.FailEvery == 0
	r.firsts++
	r.failed[id] = fail
	return fail
}

// isForeign reports whether e belongs to another application than the
// receiver's.
func (r *Receiver) isForeign(e event) bool {
	if r.rules.Application != "" && !r.rules.Legacy && e.Application != r.rules.Application {
		return true
	}
	return len(r.rules.Types) > 0 && !slices.Contains(r.rules.Types, e.Type)
}

// checkHeaders says what documented header is missing or wrong, or "".
func (r *Receiver) checkHeaders(h http.Header, evs []event) string {
	switch {
	case r.rules.UserAgent != "" && h.Get("User-Agent") != r.rules.UserAgent:
		return "User-Agent " + h.Get("User-Agent") + ", want " + r.rules.UserAgent
	case h.Get(r.headers.Delivery) == "":
		return r.headers.Delivery + " missing"
	case h.Get(r.headers.Event) == "":
		return r.headers.Event + " missing"
	case r.rules.Legacy && len(evs) == 1 && h.Get(r.headers.Event) != evs[0].Type:
		return r.headers.Event + " differs from the body's event"
	}
	if _, err := time.Parse(time.RFC3339, h.Get(r.headers.Timestamp)); err != nil {
		return r.headers.Timestamp + " is not an ISO 8601 time"
	}
	return ""
}

// fresh reports whether the ISO 8601 timestamp ts is at most maxAge old
// at now. The document's rule is about age only: a timestamp ahead of
// the receiver's clock passes.
func fresh(ts string, now time.Time, maxAge time.Duration) bool {
	at, err := time.Parse(time.RFC3339, ts)
	return err == nil && now.Sub(at) <= maxAge
}
