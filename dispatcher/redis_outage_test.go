package dispatcher_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/redis/go-redis/v9"
)

// TestRedisOutageHoldsCommitsAndLosesNothing takes Redis away mid-stream.
// Deliveries whose 2xx cannot be recorded keep their records uncommitted;
// when Redis is back they settle, and a successor re-reading the partition
// sends none of them again.
func TestRedisOutageHoldsCommitsAndLosesNothing(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		opt, err := redis.ParseURL(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testbackend.NewProxy(t, opt.Addr)
		opt.Addr = proxy.Addr()
		opt.MaxRetries = -1 // fail fast; the dispatcher does its own backing off
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })

		s := newSink(t, "X-Hookline")
		f := newFixture(t, b, []*endpoints.Endpoint{endpointFor("ep1", "t-1", s, func(e *endpoints.Endpoint) {
			e.MaxItems, e.MaxWait = 5, endpoints.Duration(50*time.Millisecond)
		})}, func(c *dispatcher.Config) { c.Redis = rdb })
		var evs []producer.Event
		for i := 0; i < 10; i++ {
			evs = append(evs, taskEvent("t-1", "obj"+strconv.Itoa(i), "Todo"))
		}
		f.publish(t, evs...)
		s.Delivered(t, 10, 20*time.Second)
		waitStats(t, f.d, func(st dispatcher.Stats) bool { return st.Buffered == 0 })
		before, _ := s.Snapshot()
		settled := f.d.Stats().Delivered
		if settled != int64(len(before)) {
			t.Fatalf("%d posts but %d settled deliveries", len(before), settled)
		}

		proxy.Cut()
		f.publish(t, evs...)
		// One more delivery goes out; its 2xx cannot be recorded, so the
		// endpoint's worker waits (backing off) and nothing settles.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if p, _ := s.Snapshot(); len(p) > len(before) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		during, _ := s.Snapshot()
		if len(during) != len(before)+1 {
			t.Fatalf("%d posts while Redis was away, want %d: one delivery, then the worker waits", len(during), len(before)+1)
		}
		if st := f.d.Stats(); st.Delivered != settled || st.Buffered == 0 {
			t.Fatalf("with Redis away: %+v, want %d settled deliveries and the rest held", st, settled)
		}
		proxy.Restore()
		s.Delivered(t, 20, 20*time.Second)
		waitStats(t, f.d, func(st dispatcher.Stats) bool { return st.Buffered == 0 })
		posts, _ := s.Snapshot()
		if st := f.d.Stats(); st.Delivered != int64(len(posts)) {
			t.Fatalf("after Redis came back: %d posts, %+v", len(posts), st)
		}

		// A successor must find everything settled: committed or recorded.
		f.kill()
		d2 := f.start(t)
		time.Sleep(time.Second)
		after, _ := s.Snapshot()
		if len(after) != len(posts) {
			t.Fatalf("successor re-posted %d deliveries", len(after)-len(posts))
		}
		t.Logf("successor stats: %+v", d2.Stats())
	})
}

func waitStats(t *testing.T, d *dispatcher.Dispatcher, ok func(dispatcher.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok(d.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", d.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
