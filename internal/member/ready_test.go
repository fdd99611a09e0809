package member_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/member"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestReadyOnceJoined: a member is not ready before Run, is once the
// group has taken it in, also with more members than partitions (one
// gets none), and is not once Run has returned.
func TestReadyOnceJoined(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic, group := k.Topic(t, 1), testbackend.UniqueName(t)
		newMember := func() (*member.Member[*part], *owner) {
			o := &owner{limit: 1 << 30}
			m, err := member.New(member.Config{Brokers: k.Brokers, Group: group, Consume: []string{topic},
				CommitInterval: 100 * time.Millisecond}, o)
			if err != nil {
				t.Fatal(err)
			}
			o.m = m
			return m, o
		}
		ctx := context.Background()
		var ms []*member.Member[*part]
		errs := make(chan error, 2)
		for range 2 {
			m, _ := newMember()
			if err := m.Ready(ctx); !errors.Is(err, member.ErrNotJoined) {
				t.Fatalf("Ready before Run: %v, want ErrNotJoined", err)
			}
			ms = append(ms, m)
			go func() { errs <- m.Run(ctx) }()
		}
		for _, m := range ms {
			deadline := time.Now().Add(30 * time.Second)
			for m.Ready(ctx) != nil {
				if time.Now().After(deadline) {
					t.Fatalf("not ready after 30s: %v", m.Ready(ctx))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		// The one partition is one member's; the other is ready with none.
		for deadline := time.Now().Add(30 * time.Second); len(ms[0].Partitions())+len(ms[1].Partitions()) != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("%d and %d partitions assigned, want 1 in all", len(ms[0].Partitions()), len(ms[1].Partitions()))
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, m := range ms {
			if err := m.Ready(ctx); err != nil {
				t.Errorf("Ready with %d partitions: %v", len(m.Partitions()), err)
			}
		}
		for _, m := range ms {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := m.Shutdown(sctx); err != nil {
				t.Error(err)
			}
			cancel()
			if err := <-errs; err != nil {
				t.Error(err)
			}
			if m.Joined() {
				t.Error("joined after Run returned")
			}
		}
	})
}
