package member_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/lifecycle/lifecycletest"
	"github.com/hookline/hookline/internal/member"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// part settles the records whose value is below the owner's limit; the
// rest stay "in flight", so the commit point stops at the first of them.
type part struct {
	o    *owner
	next int64 // one past the last settled record; -1 before any
	gone bool
}

func (p *part) CommitPoint() int64 {
	p.o.mu.Lock()
	defer p.o.mu.Unlock()
	return p.next
}

func (p *part) Release() {
	p.o.mu.Lock()
	defer p.o.mu.Unlock()
	p.gone = true
}

type owner struct {
	m        *member.Member[*part]
	mu       sync.Mutex
	limit    int // records with a value ≥ limit never settle
	handled  int
	quiesced int
}

func (o *owner) Assign(_ context.Context, _ string, _ int32) (*part, bool) {
	return &part{o: o, next: -1}, true
}

func (o *owner) Handle(_ context.Context, fs kgo.Fetches) {
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		p, ok := o.m.Partition(fp.Topic, fp.Partition)
		if !ok {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, r := range fp.Records {
			o.handled++
			v, _ := strconv.Atoi(string(r.Value))
			if v < o.limit && (p.next < 0 || p.next == r.Offset) {
				p.next = r.Offset + 1 // settled in order; the first unsettled one holds the rest
			}
		}
	})
}

func (o *owner) Quiesce(_ context.Context, ps []*part) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.quiesced += len(ps)
}

// TestMemberCommitsOnlyItsCommitPoints: per partition, the group's offset
// ends exactly at the last settled record, whether the member drains
// (Shutdown) or crashes (Run's context ends: nothing more is committed).
func TestMemberCommitsOnlyItsCommitPoints(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := k.Topic(t, 2)
		cl := k.Client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		for i := 0; i < 100; i++ {
			r := &kgo.Record{Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		group := testbackend.UniqueName(t)
		run := func(limit, want int, graceful bool) (handled, quiesced int) {
			o := &owner{limit: limit}
			m, err := member.New(member.Config{Brokers: k.Brokers, Group: group, Consume: []string{topic},
				CommitInterval: 50 * time.Millisecond}, o)
			if err != nil {
				t.Fatal(err)
			}
			o.m = m
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for {
				o.mu.Lock()
				n := o.handled
				o.mu.Unlock()
				if n >= want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("handled %d records", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if graceful {
				sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer scancel()
				if err := m.Shutdown(sctx); err != nil {
					t.Fatal(err)
				}
			} else {
				time.Sleep(200 * time.Millisecond) // let a periodic commit happen
				cancel()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.handled, o.quiesced
		}
		// Records 0..59 settle: offsets 0..29 on each partition.
		handled, quiesced := run(60, 100, true)
		if got := committed(t, k, group, topic); got != "[30 30]" {
			t.Fatalf("after a drain the group's offsets are %s, want [30 30] (the commit points)", got)
		}
		if quiesced != 2 {
			t.Fatalf("Quiesce saw %d partitions on Shutdown, want 2", quiesced)
		}
		t.Logf("drain: handled %d, committed %s", handled, committed(t, k, group, topic))
		// Restarted, it reads from the commit points: 2×20 records left.
		// Everything below 80 settles, then the member crashes.
		handled, _ = run(80, 40, false)
		if handled != 40 {
			t.Fatalf("the restarted member handled %d records, want the 40 past the commit points", handled)
		}
		if got := committed(t, k, group, topic); got != "[40 40]" {
			t.Fatalf("after a crash the group's offsets are %s, want [40 40] (committed before the crash)", got)
		}
		t.Logf("crash: handled %d, committed %s", handled, committed(t, k, group, topic))
	})
}

func committed(t *testing.T, k testbackend.Kafka, group, topic string) string {
	t.Helper()
	adm := k.Admin(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		os, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			var got []int64
			for p := int32(0); p < 2; p++ {
				o, ok := os.Lookup(topic, p)
				if !ok {
					got = append(got, -1)
					continue
				}
				got = append(got, o.At)
			}
			return fmt.Sprint(got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch offsets: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMemberKeepsTheLifecycle: a Shutdown made before Run is remembered,
// for the dispatcher, the retrier and the indexer built on a member.
func TestMemberKeepsTheLifecycle(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		o := &owner{}
		m, err := member.New(member.Config{Brokers: k.Brokers, Group: testbackend.UniqueName(t), Consume: []string{k.Topic(t, 1)}}, o)
		if err != nil {
			t.Fatal(err)
		}
		o.m = m
		lifecycletest.ShutdownBeforeRun(t, m, 30*time.Second)
	})
}
