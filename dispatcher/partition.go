package dispatcher

import (
	"sort"
	"sync"
	"time"
)

// partition tracks one assigned partition: which consumed records still
// wait for deliveries, and which spans Redis says are already settled.
// Guarded by Dispatcher.mu.
type partition struct {
	topic string
	part  int32
	// pending holds consumed records in offset order from index head on;
	// left counts the unsettled deliveries holding each one.
	pending []pendingRec
	head    int
	// next is one past the last consumed offset; -1 before the first.
	next int64
	// mu is Dispatcher.mu, for the member's calls.
	mu *sync.Mutex
	// settled holds spans already settled before this assignment, by
	// endpoint: re-consumed records inside them are not sent again.
	settled map[string][][2]int64
	// dropped is set when the partition is revoked or lost: nothing of it
	// is committed by this member any more, its records not yet sent are
	// dropped from their batches, and settles only count down what this
	// member still holds of it (see released.go).
	dropped bool
	// onRelease, called under mu when the partition is dropped, keeps it
	// for a later assignment of the same partition to find.
	onRelease  func(*partition)
	releasedAt time.Time
}

type pendingRec struct {
	offset int64
	left   int32
}

func newPartition(topic string, part int32, settled map[string][][2]int64) *partition {
	return &partition{topic: topic, part: part, next: -1, settled: settled}
}

// consumed registers a record held by n deliveries (n may be 0).
func (p *partition) consumed(offset int64, n int) {
	p.next = offset + 1
	if n > 0 {
		p.pending = append(p.pending, pendingRec{offset: offset, left: int32(n)})
	}
}

// settle marks one delivery holding offset as settled and returns the
// record's index for the next call's hint (-1 when absent). A batch's
// offsets on one partition rise, so the next one is usually right after
// the hint and no search is needed. Indexes hold while d.mu is.
func (p *partition) settle(offset int64, hint int) int {
	i := -1
	if hint >= p.head && hint+1 < len(p.pending) && p.pending[hint+1].offset == offset {
		i = hint + 1
	} else {
		q := p.pending[p.head:]
		j := sort.Search(len(q), func(j int) bool { return q[j].offset >= offset })
		if j < len(q) && q[j].offset == offset {
			i = p.head + j
		}
	}
	if i >= 0 && p.pending[i].left > 0 {
		p.pending[i].left--
	}
	return i
}

// commitPoint returns the offset to commit: the lowest record still
// pending, or one past the last consumed when nothing is. -1: nothing yet.
func (p *partition) commitPoint() int64 {
	for p.head < len(p.pending) && p.pending[p.head].left == 0 {
		p.head++
	}
	if p.head == len(p.pending) {
		p.pending, p.head = p.pending[:0], 0
		return p.next
	}
	if p.head > 4096 && p.head > len(p.pending)/2 {
		n := copy(p.pending, p.pending[p.head:])
		p.pending, p.head = p.pending[:n], 0
	}
	return p.pending[p.head].offset
}

// CommitPoint is commitPoint under the dispatcher's lock, for the member.
func (p *partition) CommitPoint() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropped {
		return -1 // its dropped records were counted down unsent
	}
	return p.commitPoint()
}

// Release drops the partition: records still being routed into it are
// skipped, and those not yet sent are dropped from their batches.
func (p *partition) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped = true
	if p.onRelease != nil {
		p.onRelease(p)
	}
}

// idle reports whether no consumed record waits for a delivery.
func (p *partition) idle() bool { return p.commitPoint() == p.next }

// alreadySettled reports whether endpoint settled offset before this
// assignment.
func (p *partition) alreadySettled(endpoint string, offset int64) bool {
	if len(p.settled) == 0 {
		return false // the common case: nothing settled above the commit
	}
	for _, s := range p.settled[endpoint] {
		if offset >= s[0] && offset <= s[1] {
			return true
		}
	}
	return false
}
