package thresholds_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/producer/thresholds"
	"github.com/redis/go-redis/v9"
)

type fixture struct {
	k       testbackend.Kafka
	topic   string
	p       *producer.Producer
	tracker *thresholds.Tracker
	clock   time.Time
}

func setup(t *testing.T, rdb redis.UniversalClient, prefix string) *fixture {
	f := &fixture{k: testbackend.NewFake(t), topic: "events", clock: time.Unix(1_800_000_000, 0)}
	p, err := producer.New(producer.Config{Brokers: f.k.Brokers, Topic: f.topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	f.p = p
	f.tracker = thresholds.New(rdb, thresholds.Options{Prefix: prefix, Lease: time.Minute, Now: func() time.Time { return f.clock }})
	return f
}

// fired returns the thresholds found in the events topic, in order.
func (f *fixture) fired(t *testing.T, want int) []float64 {
	t.Helper()
	recs := f.k.ReadAll(t, f.topic, want, 5*time.Second)
	var out []float64
	for _, r := range recs {
		var e struct {
			Type string
			Data struct {
				Threshold, UsedPercent, UsedHours, AllocatedHours float64
				Project                                           struct{ ID string }
			}
		}
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != "project.budget_threshold" || e.Data.Project.ID != "p1" || e.Data.AllocatedHours == 0 || e.Data.UsedHours == 0 {
			t.Fatalf("unexpected event %s", r.Value)
		}
		out = append(out, e.Data.Threshold)
	}
	return out
}

func budget(alloc, used float64, ths ...float64) thresholds.Budget {
	return thresholds.Budget{TenantID: "t-1", ProjectID: "p1", AllocatedHours: alloc, UsedHours: used, Thresholds: ths,
		Project: map[string]any{"name": "Hospital wing"}}
}

func TestFiresOnceAndRearms(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		f := setup(t, rdb, prefix)
		ctx := context.Background()
		check := func(b thresholds.Budget) int {
			t.Helper()
			pubs, err := f.tracker.Check(ctx, f.p, b)
			if err != nil {
				t.Fatal(err)
			}
			return len(pubs)
		}
		steps := []struct {
			b    thresholds.Budget
			want int
			why  string
		}{
			{budget(100, 40, 50, 80), 0, "below every threshold"},
			{budget(100, 55, 50, 80), 1, "crosses 50"},
			{budget(100, 60, 50, 80), 0, "50 already fired"},
			{budget(100, 95, 50, 80), 1, "crosses 80; 50 stays fired"},
			{budget(100, 99, 50, 80), 0, "both fired"},
			{budget(100, 99, 50), 0, "80 removed"},
			{budget(100, 99, 50, 80), 1, "80 re-added re-arms it"},
			{budget(200, 99, 50, 80), 0, "allocation raised: re-armed, now at 49.5%"},
			{budget(200, 170, 50, 80), 2, "both cross again after the re-arm"},
		}
		total := 0
		for _, s := range steps {
			if got := check(s.b); got != s.want {
				t.Fatalf("%s: fired %d, want %d", s.why, got, s.want)
			}
			total += s.want
		}
		got := f.fired(t, total)
		want := []float64{50, 80, 80, 50, 80}
		if len(got) != len(want) {
			t.Fatalf("topic holds %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("topic holds %v, want %v", got, want)
			}
		}
	})
}

func TestConcurrentCallersFireOnce(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		f := setup(t, rdb, prefix)
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pubs, err := f.tracker.Check(context.Background(), f.p, budget(100, 85, 50, 80, 100))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				n += len(pubs)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if n != 2 {
			t.Fatalf("32 concurrent callers fired %d times, want 2 (50 and 80)", n)
		}
		if got := f.fired(t, 2); len(got) != 2 {
			t.Fatalf("topic holds %v", got)
		}
	})
}

func TestExpiredClaimFiresAgainWithSameEventID(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		f := setup(t, rdb, prefix)
		ctx := context.Background()
		// A caller claims and dies before publishing.
		claims, err := f.tracker.Claim(ctx, budget(100, 90, 80))
		if err != nil || len(claims) != 1 {
			t.Fatalf("claim: %v %v", claims, err)
		}
		if again, _ := f.tracker.Claim(ctx, budget(100, 90, 80)); len(again) != 0 {
			t.Fatalf("claimed twice within the lease: %v", again)
		}
		f.clock = f.clock.Add(2 * time.Minute)
		pubs, err := f.tracker.Check(ctx, f.p, budget(100, 90, 80))
		if err != nil || len(pubs) != 1 {
			t.Fatalf("after the lease: %v %v", pubs, err)
		}
		if pubs[0].EventID != claims[0].EventID {
			t.Fatalf("eventId changed across the retry: %s vs %s", pubs[0].EventID, claims[0].EventID)
		}
	})
}
