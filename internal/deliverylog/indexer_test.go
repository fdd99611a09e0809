package deliverylog

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/lifecycle/lifecycletest"
	"github.com/hookline/hookline/internal/testbackend"
)

const (
	tenantA, tenantB = "t-acme", "t-beta"
	epA, epB         = "ep-a1", "ep-b1"
)

// scenario is the attempt log of two tenants: retries then a 2xx, a first
// 2xx, retries still pending, a 410, a split whose parts were delivered
// and dead-lettered, and tenant B's own deliveries.
func scenario(base time.Time) []Entry {
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	split := at(tenantA, epA, "d5", 1, 500, OutcomeSplit, m(-180), 0)
	split.SplitInto, split.Error = []string{"d5a", "d5b"}, "record too large"
	partA := at(tenantA, epA, "d5a", 0, 200, "delivered", m(-180).Add(time.Second), 70)
	partB := at(tenantA, epA, "d5b", 0, 500, "dead", m(-180).Add(2*time.Second), 60)
	partA.SplitFrom, partB.SplitFrom = "d5", "d5"
	partA.Attempt, partB.Attempt = 2, 2
	return []Entry{
		at(tenantA, epA, "d4", 1, 410, "gone", m(-300), 15),
		split, partA, partB,
		retrying(at(tenantA, epA, "d1", 1, 500, "retry", m(-50), 30), m(-49), "HTTP 500"),
		retrying(at(tenantA, epA, "d1", 2, 503, "retry", m(-45), 40), m(-40), "HTTP 503"),
		at(tenantA, epA, "d1", 3, 200, "delivered", m(-40), 20),
		at(tenantA, epA, "d2", 1, 200, "delivered", m(-30), 120),
		retrying(at(tenantA, epA, "d3", 1, 0, "retry", m(-20), 900), m(-19), "connection failed: refused"),
		retrying(at(tenantA, epA, "d3", 2, 500, "retry", m(-10), 600), m(20), "HTTP 500"),
		at(tenantB, epB, "d6", 1, 200, "delivered", m(-15), 80),
		retrying(at(tenantB, epB, "d7", 1, 502, "retry", m(-25), 10), m(5), "HTTP 502"),
	}
}

// snapshot is every figure the Reader gives for the scenario's endpoints.
type snapshot struct {
	Pages      map[string][][]Delivery
	Deliveries map[string]Delivery
	Health     map[string]Health
}

func takeSnapshot(t *testing.T, r *Reader, now time.Time) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{Pages: map[string][][]Delivery{}, Deliveries: map[string]Delivery{}, Health: map[string]Health{}}
	for _, te := range [][2]string{{tenantA, epA}, {tenantB, epB}} {
		cursor := ""
		for {
			page, next, err := r.Deliveries(ctx, te[0], te[1], cursor, 3)
			if err != nil {
				t.Fatalf("deliveries: %v", err)
			}
			s.Pages[te[1]] = append(s.Pages[te[1]], page)
			for _, d := range page {
				full, err := r.Delivery(ctx, te[0], d.ID)
				if err != nil {
					t.Fatalf("delivery %s: %v", d.ID, err)
				}
				s.Deliveries[d.ID] = full
			}
			if next == "" {
				break
			}
			cursor = next
		}
		h, err := r.Health(ctx, te[0], te[1], now)
		if err != nil {
			t.Fatalf("health %s: %v", te[1], err)
		}
		s.Health[te[1]] = h
	}
	return s
}

func ids(page []Delivery) []string {
	var out []string
	for _, d := range page {
		out = append(out, d.ID)
	}
	return out
}

func TestIndexReadAndReindex(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		topic := b.Topic(t, 3)
		base := time.Now().UTC().Truncate(time.Minute)
		entries := scenario(base)
		produce(t, b.Kafka, topic, entries...)
		group := testbackend.UniqueName(t)
		ix := start(t, testConfig(b, topic, group), nil)
		if s := ix.waitRecords(t, int64(len(entries))); s.Applied != int64(len(entries)) || s.Skipped != 0 {
			t.Fatalf("stats %+v, want %d applied", s, len(entries))
		}
		ix.stop(t)
		r := NewReader(b.Redis, b.RedisPrefix)
		got := takeSnapshot(t, r, base)
		checkScenario(t, got, base)
		checkIsolation(t, r, base)

		// A second group reads the whole topic again: nothing changes.
		again := start(t, testConfig(b, topic, group+".again"), nil)
		if s := again.waitRecords(t, int64(len(entries))); s.Applied != 0 {
			t.Fatalf("re-reading applied %d records, want 0", s.Applied)
		}
		again.stop(t)
		if after := takeSnapshot(t, r, base); !reflect.DeepEqual(after, got) {
			t.Fatalf("figures changed by re-reading:\nbefore %+v\nafter  %+v", got, after)
		}

		// Killed between its Redis writes and its commit, the first group
		// re-reads the record on restart; the figures are those of one read.
		final := at(tenantA, epA, "d3", 3, 204, "delivered", base.Add(-5*time.Minute), 45)
		produce(t, b.Kafka, topic, final)
		killed := start(t, testConfig(b, topic, group), func(r *running) { r.cancel(); r.workCancel() })
		killed.waitRecords(t, 1)
		killed.kill()
		mid := takeSnapshot(t, r, base)
		if d := mid.Deliveries["d3"]; d.Status != StatusDelivered || d.Attempts != 3 || d.LastCode != 204 || d.NextDue != nil {
			t.Fatalf("d3 after its 2xx: %+v", d)
		}
		if h := mid.Health[epA]; h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.State != StateHealthy ||
			h.Attempts1h != 7 || h.SuccessRate1h != 3.0/7 {
			t.Fatalf("health after the 2xx: %+v", h)
		}
		restarted := start(t, testConfig(b, topic, group), nil)
		if s := restarted.waitRecords(t, 1); s.Applied != 0 || s.Records != 1 {
			t.Fatalf("restart after the kill: %+v, want the one uncommitted record read and not applied", s)
		}
		restarted.stop(t)
		if after := takeSnapshot(t, r, base); !reflect.DeepEqual(after, mid) {
			t.Fatalf("figures changed by the restart:\nbefore %+v\nafter  %+v", mid, after)
		}
	})
}

func checkScenario(t *testing.T, s snapshot, base time.Time) {
	t.Helper()
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	var pages [][]string
	for _, p := range s.Pages[epA] {
		pages = append(pages, ids(p))
	}
	want := [][]string{{"d3", "d2", "d1"}, {"d5b", "d5a", "d5"}, {"d4"}}
	if !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages of %s: %v, want %v", epA, pages, want)
	}
	d := s.Deliveries
	check := func(id string, st Status, attempts, code int, due *time.Time, first, last time.Time) {
		t.Helper()
		x := d[id]
		if x.Status != st || x.Attempts != attempts || x.LastCode != code || !reflect.DeepEqual(x.NextDue, due) ||
			!x.FirstAt.Equal(first) || !x.LastAt.Equal(last) || x.TenantID != tenantA || x.EndpointID != epA {
			t.Errorf("delivery %s: %+v, want %s, %d attempts, last code %d, due %v, %v..%v", id, x, st, attempts, code, due, first, last)
		}
	}
	check("d1", StatusDelivered, 3, 200, nil, m(-50), m(-40))
	check("d2", StatusDelivered, 1, 200, nil, m(-30), m(-30))
	check("d3", StatusRetrying, 2, 500, ptime(m(20)), m(-20), m(-10))
	check("d4", StatusDead, 1, 410, nil, m(-300), m(-300))
	check("d5", StatusSplit, 1, 500, nil, m(-180), m(-180))
	check("d5a", StatusDelivered, 2, 200, nil, m(-180).Add(time.Second), m(-180).Add(time.Second))
	check("d5b", StatusDead, 2, 500, nil, m(-180).Add(2*time.Second), m(-180).Add(2*time.Second))
	if !reflect.DeepEqual(d["d5"].SplitInto, []string{"d5a", "d5b"}) || d["d5a"].SplitFrom != "d5" {
		t.Errorf("split: %+v / %+v", d["d5"], d["d5a"])
	}
	if x := d["d3"]; x.LastError != "HTTP 500" || x.LatencyMS != 600 || x.Items != 2 {
		t.Errorf("d3 last attempt: %+v", x)
	}
	var codes []int
	for _, e := range d["d1"].History {
		codes = append(codes, e.Status)
	}
	if !reflect.DeepEqual(codes, []int{500, 503, 200}) || !d["d1"].History[1].NextDue.Equal(m(-40)) {
		t.Errorf("d1 history: %+v", d["d1"].History)
	}
	for _, p := range s.Pages[epA] {
		for _, x := range p {
			if x.History != nil {
				t.Errorf("page entry %s carries history", x.ID)
			}
		}
	}

	h := s.Health[epA]
	wantH := Health{
		State: StateFailing, Recent: []int{500, 0, 200, 200, 503, 500, 500, 200, 410},
		// 1h: d1 ×3, d2, d3 ×2 with 2 successes; 24h adds d4, d5a, d5b.
		SuccessRate1h: 2.0 / 6, SuccessRate24h: 3.0 / 9, Attempts1h: 6, Attempts24h: 9,
		// 1h latencies 20 30 40 120 600 900: the 3rd is in (25,50], the 6th in (750,1000].
		P50MS: 50, P99MS: 1000,
		ConsecutiveFailures: 2, FailingSince: ptime(m(-20)), LastDelivery: ptime(m(-30)),
	}
	wantH.Reason = "2 consecutive failures since " + m(-20).Format(time.RFC3339) + "; last: HTTP 500"
	if !reflect.DeepEqual(h, wantH) {
		t.Errorf("health of %s:\n got %+v\nwant %+v", epA, h, wantH)
	}
	hb := s.Health[epB]
	if hb.Attempts1h != 2 || hb.SuccessRate1h != 0.5 || hb.ConsecutiveFailures != 0 || hb.State != StateHealthy ||
		!reflect.DeepEqual(hb.Recent, []int{200, 502}) || !hb.LastDelivery.Equal(m(-15)) {
		t.Errorf("health of %s: %+v", epB, hb)
	}
}

// checkIsolation asks for each tenant's data under the other tenant.
func checkIsolation(t *testing.T, r *Reader, base time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct{ tenant, ep, id string }{{tenantB, epA, "d1"}, {tenantA, epB, "d6"}, {"", epA, "d1"}} {
		if _, err := r.Delivery(ctx, c.tenant, c.id); !errors.Is(err, ErrNotFound) {
			t.Errorf("tenant %q reading delivery %s: %v, want ErrNotFound", c.tenant, c.id, err)
		}
		page, next, err := r.Deliveries(ctx, c.tenant, c.ep, "", 10)
		if err != nil || len(page) != 0 || next != "" {
			t.Errorf("tenant %q listing %s: %d deliveries, next %q, %v", c.tenant, c.ep, len(page), next, err)
		}
		if _, err := r.Health(ctx, c.tenant, c.ep, base); !errors.Is(err, ErrNotFound) {
			t.Errorf("tenant %q reading health of %s: %v, want ErrNotFound", c.tenant, c.ep, err)
		}
	}
	if _, _, err := r.Deliveries(ctx, tenantA, epA, "not a cursor!", 10); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestIndexerKeepsTheLifecycle: a Shutdown made before Run is remembered.
func TestIndexerKeepsTheLifecycle(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		ix, err := NewIndexer(testConfig(b, b.Topic(t, 1), testbackend.UniqueName(t)))
		if err != nil {
			t.Fatal(err)
		}
		lifecycletest.ShutdownBeforeRun(t, ix, 30*time.Second)
	})
}

// TestLocateNamesTheNewestRecord: Retry now reads a delivery from where
// the log says its newest record landed. A 2xx writes no record, so the
// one before it stays; an older entry read late does not move it back;
// another tenant, a delivery delivered at once and an unknown one have
// none.
func TestLocateNamesTheNewestRecord(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		topic := b.Topic(t, 1)
		base := time.Now().UTC().Truncate(time.Minute)
		m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
		loc := func(tp string, off int64) *Location {
			return &Location{Topic: "hookline.retry." + tp, Partition: 2, Offset: off}
		}
		with := func(e Entry, l *Location) Entry { e.Record = l; return e }
		dead := loc("x", 9)
		dead.Topic = "hookline.dead"
		entries := []Entry{
			with(retrying(at(tenantA, epA, "d1", 1, 500, "retry", m(-50), 30), m(-49), "HTTP 500"), loc("1m0s", 7)),
			with(retrying(at(tenantA, epA, "d1", 2, 503, "retry", m(-45), 40), m(-40), "HTTP 503"), loc("5m0s", 3)),
			at(tenantA, epA, "d1", 3, 200, "delivered", m(-40), 20),
			at(tenantA, epA, "d2", 1, 200, "delivered", m(-30), 10),
			with(at(tenantA, epA, "d3", 2, 400, "dead", m(-20), 10), dead),
			with(retrying(at(tenantA, epA, "d3", 1, 500, "retry", m(-25), 10), m(-24), "HTTP 500"), loc("1m0s", 1)),
		}
		produce(t, b.Kafka, topic, entries...)
		ix := start(t, testConfig(b, topic, testbackend.UniqueName(t)), nil)
		ix.waitRecords(t, int64(len(entries)))
		ix.stop(t)
		r := NewReader(b.Redis, b.RedisPrefix)
		ctx := context.Background()
		for id, want := range map[string]Location{"d1": *loc("5m0s", 3), "d3": *dead} {
			if got, err := r.Locate(ctx, tenantA, id); err != nil || got != want {
				t.Errorf("locate %s: %v %v, want %v", id, got, err, want)
			}
		}
		for _, c := range [][2]string{{tenantA, "d2"}, {tenantB, "d1"}, {tenantA, "nope"}} {
			if got, err := r.Locate(ctx, c[0], c[1]); !errors.Is(err, ErrNotFound) {
				t.Errorf("tenant %s locating %s: %v %v, want ErrNotFound", c[0], c[1], got, err)
			}
		}
	})
}
