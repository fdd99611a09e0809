package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConcurrentCreatesOfOneName: many creates of one (tenant, name)
// from two Stores at once: exactly one succeeds, every other gets
// ErrNameTaken, every Store (and a fresh one, and on kfake one after
// compaction) holds that one endpoint, and every losing id that reached
// the log ends in a tombstone.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		stores := []*Store{openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)}
		const perStore = 12
		var wg sync.WaitGroup
		var won, taken atomic.Int32
		var winner atomic.Value
		start := make(chan struct{})
		for si, s := range stores {
			for i := range perStore {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := endpoint(fmt.Sprintf("s%d-%d", si, i), "t-a")
					e.Name = "orders"
					<-start
					got, err := s.Create(context.Background(), e)
					switch {
					case err == nil:
						won.Add(1)
						winner.Store(got.ID)
					case errors.Is(err, ErrNameTaken):
						taken.Add(1)
					default:
						t.Errorf("create %s: %v", e.ID, err)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		if won.Load() != 1 || taken.Load() != 2*perStore-1 {
			t.Fatalf("%d creates won and %d got ErrNameTaken, want 1 and %d", won.Load(), taken.Load(), 2*perStore-1)
		}
		id := winner.Load().(string)
		check := func(name string, s *Store) {
			t.Helper()
			eventually(t, func() bool {
				eps := s.ForTenant("t-a")
				return len(eps) == 1 && eps[0].ID == id && len(table(s)) == 1
			}, name+" holds exactly the winner")
		}
		check("store A", stores[0])
		check("store B", stores[1])
		check("a fresh store", openStore(t, k, topic, keyK1))
		latest := latestRecords(t, k, topic)
		losers := 0
		for key, v := range latest {
			if key != id {
				losers++
				if v != nil {
					t.Errorf("losing id %s ends in a value, not a tombstone", key)
				}
			}
		}
		t.Logf("%d losing creates reached the log, each tombstoned", losers)
		if k.Fake != nil {
			k.Fake.Compact()
			check("a store opened after compaction", openStore(t, k, topic, keyK1))
		}
	})
}

// TestDisableNotLostToConcurrentUpdate: a PATCH based on the value from
// before a Disable is reapplied to the disabled value, so it stays
// disabled and the PATCH's change is kept too.
func TestDisableNotLostToConcurrentUpdate(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		mustCreate(t, a, endpoint("e1", "t-a"))
		eventually(t, func() bool { return b.Get("e1") != nil }, "b sees e1")
		calls := 0
		read := make(chan struct{})
		disabled := make(chan struct{})
		go func() {
			<-read // a has read the old value
			if err := b.Disable(ctx, "e1", "endpoint answered 410 Gone"); err != nil {
				t.Error(err)
			}
			for deadline := time.Now().Add(10 * time.Second); !a.Get("e1").Disabled && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			close(disabled)
		}()
		got, err := a.Update(ctx, "e1", func(e *endpoints.Endpoint) error {
			calls++
			if calls == 1 {
				close(read)
				<-disabled // the Disable is in the log before this PATCH
			}
			e.URL = "https://example.com/patched"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls != 2 || !got.Disabled || got.URL != "https://example.com/patched" {
			t.Fatalf("change ran %d times; result disabled=%v url=%s", calls, got.Disabled, got.URL)
		}
		for name, s := range map[string]*Store{"a": a, "b": b, "fresh": openStore(t, k, topic, keyK1)} {
			eventually(t, func() bool {
				e := s.Get("e1")
				return e != nil && e.Disabled && e.URL == "https://example.com/patched"
			}, name+" holds e1 disabled and patched")
		}
	})
}

// TestConcurrentUpdatesLoseNothing: updates from two Stores racing on one
// endpoint each count once, and a fresh replay reaches the same table.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		stores := []*Store{openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)}
		mustCreate(t, stores[0], endpoint("e1", "t-a"))
		eventually(t, func() bool { return stores[1].Get("e1") != nil }, "b sees e1")
		const workers, each = 3, 10
		var wg sync.WaitGroup
		var disables atomic.Int32
		for _, s := range stores {
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						if _, err := s.Update(ctx, "e1", func(e *endpoints.Endpoint) error { e.MaxItems++; return nil }); err != nil {
							t.Error(err)
						}
					}
					if w == 0 && disables.Add(1) == 1 {
						if err := s.Disable(ctx, "e1", "endpoint answered 410 Gone"); err != nil {
							t.Error(err)
						}
					}
				}()
			}
		}
		wg.Wait()
		want := 2 * workers * each
		for i, s := range stores {
			eventually(t, func() bool { e := s.Get("e1"); return e.MaxItems == want && e.Disabled }, fmt.Sprintf("store %d counts %d updates, disabled", i, want))
		}
		fresh := openStore(t, k, topic, keyK1)
		if !reflect.DeepEqual(table(fresh), table(stores[0])) {
			t.Fatalf("a fresh replay differs:\n%+v\n%+v", table(fresh), table(stores[0]))
		}
		if v := latestRecords(t, k, topic)["e1"]; v == nil || decodeVersion(t, v) != int64(want+2) {
			t.Fatalf("e1's newest record is not the accepted last version %d", want+2)
		}
	})
}

// TestReplayAfterCompaction: a mixed history (renames onto a freed name,
// deletes, a recreated id, conflicts) compacts to a log from which a fresh
// Store builds the same table as the Store that lived through it.
func TestReplayAfterCompaction(t *testing.T) {
	k := testbackend.NewFake(t)
	ctx := context.Background()
	topic := testbackend.UniqueName(t)
	a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
	x := endpoint("x", "t-a")
	x.Name = "n1"
	mustCreate(t, a, x)
	y := endpoint("y", "t-a")
	y.Name = "n2"
	mustCreate(t, a, y)
	if _, err := a.Update(ctx, "x", func(e *endpoints.Endpoint) error { e.Name = "tmp"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { e := b.Get("x"); return e != nil && e.Name == "tmp" }, "b sees the rename")
	if _, err := b.Update(ctx, "y", func(e *endpoints.Endpoint) error { e.Name = "n1"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { e := a.Get("y"); return e != nil && e.Name == "n1" }, "a sees y renamed")
	if _, err := a.Update(ctx, "x", func(e *endpoints.Endpoint) error { e.Name = "n2"; return nil }); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, a, endpoint("z", "t-b"))
	if err := a.Delete(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return b.Get("z") == nil }, "b sees z deleted")
	mustCreate(t, b, endpoint("z", "t-b")) // an id used again after its delete
	if err := b.Disable(ctx, "x", "endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { e := a.Get("x"); return e != nil && e.Disabled && a.Get("z") != nil }, "a caught up")
	want := table(a)
	before := len(readTopic(t, k, topic))
	k.Fake.Compact()
	if after := len(readTopic(t, k, topic)); after >= before {
		t.Fatalf("compaction kept %d of %d records", after, before)
	}
	c := openStore(t, k, topic, keyK1)
	if got := table(c); !maps.EqualFunc(got, want, func(p, q endpoints.Endpoint) bool { return reflect.DeepEqual(p, q) }) {
		t.Fatalf("after compaction a fresh store holds\n%+v\nwant\n%+v", got, want)
	}
}

// TestUncorrectedLoserRepairedOnOpen: a losing record left as its key's
// newest by a writer that died is corrected by the next Store to open,
// so compaction keeps the value that won.
func TestUncorrectedLoserRepairedOnOpen(t *testing.T) {
	k := testbackend.NewFake(t)
	ctx := context.Background()
	topic := testbackend.UniqueName(t)
	a := openStore(t, k, topic, keyK1)
	mustCreate(t, a, endpoint("e1", "t-a"))
	if err := a.Disable(ctx, "e1", "endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	// A PATCH based on version 1 that lost to the Disable, written by a
	// process killed before it could retry, two minutes ago.
	stale := endpoint("e1", "t-a")
	stale.URL = "https://example.com/stale"
	v, _, err := encodeEndpoint(keyring(t, keyK1), opUpdate, 2, stale, "")
	if err != nil {
		t.Fatal(err)
	}
	cl := k.Client(t, kgo.DefaultProduceTopic(topic))
	rec := &kgo.Record{Key: []byte("e1"), Value: v, Timestamp: time.Now().Add(-2 * time.Minute),
		Headers: []kgo.RecordHeader{{Key: writeHeader, Value: []byte("gone:1")}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { _, lost := a.snapshot().rejected["e1"]; return lost }, "a applied the losing record as lost")
	if e := a.Get("e1"); !e.Disabled || e.URL == stale.URL {
		t.Fatalf("the losing record took effect: %+v", e)
	}
	b := openStore(t, k, topic, keyK1) // repairs it
	if _, lost := b.snapshot().rejected["e1"]; lost {
		t.Fatal("the losing record is still e1's newest after Open")
	}
	k.Fake.Compact()
	c := openStore(t, k, topic, keyK1)
	if e := c.Get("e1"); e == nil || !e.Disabled || e.URL == stale.URL {
		t.Fatalf("after compaction e1 reads %+v", e)
	}
}

// readTopic reads every record the topic holds now.
func readTopic(t *testing.T, k testbackend.Kafka, topic string) []*kgo.Record {
	t.Helper()
	ends, err := k.Admin(t).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	var out []*kgo.Record
	for _, r := range k.ReadAll(t, topic, int(end.Offset), time.Second) {
		if r.Offset < end.Offset {
			out = append(out, r)
		}
	}
	return out
}

// latestRecords reads the topic and returns each key's newest value
// (nil for a tombstone).
func latestRecords(t *testing.T, k testbackend.Kafka, topic string) map[string][]byte {
	t.Helper()
	ends, err := k.Admin(t).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	out := map[string][]byte{}
	for _, r := range k.ReadAll(t, topic, int(end.Offset), 10*time.Second) {
		out[string(r.Key)] = r.Value
	}
	return out
}

func decodeVersion(t *testing.T, v []byte) int64 {
	var rec endpointRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Version
}
