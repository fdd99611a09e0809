package dispatcher

import "testing"

// TestSettleWithHints: settling follows the hint when the next offset is
// right after it and searches otherwise (a stale or wrong hint, an absent
// offset); the commit point moves only past fully settled records.
func TestSettleWithHints(t *testing.T) {
	p := newPartition("t", 0, nil)
	for _, o := range []int64{10, 11, 13, 20, 21} {
		p.consumed(o, 2) // two endpoints hold each record
	}
	hint := -1
	for _, o := range []int64{10, 11, 13, 20, 21} { // endpoint A, in order
		hint = p.settle(o, hint)
		if hint < 0 || p.pending[hint].offset != o {
			t.Fatalf("settle(%d) returned index %d", o, hint)
		}
	}
	if got := p.commitPoint(); got != 10 {
		t.Fatalf("commit point %d with endpoint B unsettled, want 10", got)
	}
	// Endpoint B, with hints that do not fit: each falls back to a search.
	if i := p.settle(20, 0); i != 3 {
		t.Fatalf("settle(20) with a stale hint = %d, want 3", i)
	}
	if i := p.settle(12, -1); i != -1 {
		t.Fatalf("settle of an offset never consumed = %d, want -1", i)
	}
	for _, o := range []int64{10, 11, 13} {
		p.settle(o, 4)
	}
	if got := p.commitPoint(); got != 21 {
		t.Fatalf("commit point %d, want 21 (offset 21 still held by endpoint B)", got)
	}
	p.settle(21, -1)
	if got := p.commitPoint(); got != 22 {
		t.Fatalf("commit point %d after everything settled, want 22", got)
	}
	// Settling twice never drives a count below zero.
	p.consumed(30, 1)
	p.settle(30, -1)
	p.settle(30, -1)
	if p.pending[len(p.pending)-1].left != 0 {
		t.Fatal("count went below zero")
	}
}
