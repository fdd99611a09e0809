package dispatcher

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"go.uber.org/zap"
)

func releasedDispatcher() *Dispatcher {
	d := &Dispatcher{eps: map[string]*endpointState{}, gone: map[*partition]struct{}{}, log: zap.NewNop()}
	d.cond = sync.NewCond(&d.mu)
	d.cfg.RevokeTimeout = 300 * time.Millisecond
	d.workCtx = context.Background()
	return d
}

func releasedPartition(d *Dispatcher, part int32, offsets ...int64) (*partition, *batch) {
	p := newPartition("events", part, nil)
	p.mu, p.onRelease = &d.mu, d.released
	b := &batch{id: "b", ep: &endpoints.Endpoint{ID: "ep"}, bytes: 1}
	for _, o := range offsets {
		p.consumed(o, 1)
		b.items = append(b.items, item{value: []byte(`{}`), p: p, offset: o})
		b.bytes += 3
		d.buffered += 2
	}
	return p, b
}

// A lost partition's queued records, dropped unsent, are counted down; its
// CommitPoint must not move past them: a periodic commit that looked the
// partition up just before the loss would commit offsets never delivered
// (a commit issued during a rejoin is sent with the new generation).
func TestDroppedRecordsDoNotMoveTheCommitPoint(t *testing.T) {
	d := releasedDispatcher()
	p, b := releasedPartition(d, 0, 0, 1, 2, 3, 4)
	before := p.CommitPoint()
	p.Release() // lost
	d.mu.Lock()
	d.dropReleased(b) // prepare takes the batch off the queue
	d.mu.Unlock()
	if got := p.CommitPoint(); got > before {
		t.Fatalf("dropped partition's CommitPoint moved from %d to %d over 5 records never delivered", before, got)
	}
}

// While a partition comes back, the records its earlier incarnation still
// has queued are dropped, not sent: the new one reads them again.
func TestQueuedRecordsOfADroppedPartitionAreDroppedWhileItComesBack(t *testing.T) {
	d := releasedDispatcher()
	p, b := releasedPartition(d, 0, 0, 1, 2)
	p.Release()
	done := make(chan struct{})
	go func() { d.awaitReleased(context.Background(), "events", 0); close(done) }()
	time.Sleep(50 * time.Millisecond) // awaitReleased is waiting for p
	d.mu.Lock()
	left := d.dropReleased(b) // a sender takes the queued batch now
	n := len(b.items)
	d.mu.Unlock()
	<-done
	if left || n != 0 {
		t.Fatalf("during awaitReleased a queued batch of the dropped partition keeps %d records to send (left=%v)", n, left)
	}
}
