package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/hookline/hookline/internal/signing"
)

// Receiver is a webhook endpoint that does what a careful downstream
// consumer does: read the raw body, verify the signature in constant time,
// dedupe by delivery id and by eventId, and answer 2xx fast.
type Receiver struct {
	secret  []byte
	headers signing.Headers

	verified   atomic.Int64 // deliveries whose signature checked out
	rejected   atomic.Int64 // bad or missing signature
	events     atomic.Int64 // events in verified deliveries, duplicates included
	redelivery atomic.Int64 // verified deliveries whose id was seen before

	// FailEvery > 0 answers 503 to the first attempt of every n-th
	// delivery, so the demo shows retries. Set before serving.
	FailEvery int

	mu         sync.Mutex
	failed     map[string]bool
	deliveries map[string]struct{}
	eventIDs   map[string]struct{}
}

// NewReceiver verifies with secret and the headers of prefix ("" for the default).
func NewReceiver(secret []byte, prefix string) *Receiver {
	return &Receiver{secret: secret, headers: signing.HeadersFor(prefix),
		deliveries: map[string]struct{}{}, eventIDs: map[string]struct{}{}, failed: map[string]bool{}}
}

// Stats is a snapshot of what the receiver saw.
type Stats struct {
	Verified, Rejected, Events, Redeliveries int64
	UniqueEvents                             int
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	n := len(r.eventIDs)
	r.mu.Unlock()
	return Stats{Verified: r.verified.Load(), Rejected: r.rejected.Load(), Events: r.events.Load(),
		Redeliveries: r.redelivery.Load(), UniqueEvents: n}
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if err := signing.VerifyHex(r.secret, body, req.Header.Get(r.headers.Signature)); err != nil {
		r.rejected.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(r.headers.Delivery)
	ids, pings := eventIDs(body)
	if pings {
		// A test ping of an endpoint being created: answered, not counted.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.FailEvery > 0 {
		r.mu.Lock()
		_, seen := r.failed[id]
		fail := !seen && (len(r.failed)+len(r.deliveries))%r.FailEvery == 0
		if !seen {
			r.failed[id] = fail
		}
		r.mu.Unlock()
		if fail {
			http.Error(w, "demo: failing this first attempt to show a retry", http.StatusServiceUnavailable)
			return
		}
	}
	r.verified.Add(1)
	r.events.Add(int64(len(ids)))
	r.mu.Lock()
	if _, seen := r.deliveries[id]; seen {
		r.redelivery.Add(1)
	}
	r.deliveries[id] = struct{}{}
	for _, id := range ids {
		r.eventIDs[id] = struct{}{}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// eventIDs reads the eventId of a single envelope or of each one in a
// batch, and whether every event is a test ping.
func eventIDs(body []byte) ([]string, bool) {
	type env struct {
		Type    string `json:"type"`
		EventID string `json:"eventId"`
	}
	var batch []env
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if json.Unmarshal(trimmed, &batch) != nil {
			return nil, false
		}
	} else {
		var e env
		if json.Unmarshal(trimmed, &e) != nil {
			return nil, false
		}
		batch = []env{e}
	}
	out := make([]string, len(batch))
	pings := len(batch) > 0
	for i, e := range batch {
		out[i] = e.EventID
		pings = pings && e.Type == "ping"
	}
	return out, pings
}
