package dispatcher_test

import (
	"fmt"
	"sync"
	"time"
)

// manyTurns splits a slot's cycle at the receiver into its two halves: how
// long the receiver held each request (its delay plus how late its timer
// fired on a busy machine), and how long the dispatcher took, on the same
// connection, from the receiver's answer to the next request (reading the
// answer, settling, marking, taking the next event and writing it). The
// second is the dispatcher's share of a slot; with it, a shortfall against
// slots / delay reads as the dispatcher's or the machine's.
type manyTurns struct {
	mu    sync.Mutex
	last  map[string]time.Time // remote address -> when its last answer went
	held  []time.Duration
	turns []time.Duration
}

// begin notes a request's arrival on the connection from remote.
func (m *manyTurns) begin(remote string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.last[remote]; ok {
		m.turns = append(m.turns, at.Sub(prev))
	}
}

// end notes that the answer to the request that arrived at began is going.
func (m *manyTurns) end(remote string, began, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]time.Time{}
	}
	m.last[remote] = at
	m.held = append(m.held, at.Sub(began))
}

// String reports both halves' p50 and p99.
func (m *manyTurns) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	held, turns := manySorted(m.held), manySorted(m.turns)
	return fmt.Sprintf("receiver held p50=%s p99=%s; dispatcher turnaround per slot p50=%s p99=%s (%d turns)",
		manyUS(manyQuantile(held, 0.5)), manyUS(manyQuantile(held, 0.99)),
		manyUS(manyQuantile(turns, 0.5)), manyUS(manyQuantile(turns, 0.99)), len(turns))
}

func manyUS(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
