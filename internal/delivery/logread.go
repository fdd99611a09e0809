package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Summary is one delivery as the attempt log tells it.
type Summary struct {
	ID       string
	Status   string // delivered, retrying, dead
	Attempts int
	LastCode int
	LastAt   time.Time
	NextDue  *time.Time
	Items    int
}

// ReadLog reads the attempt log up to its current end and summarises each
// delivery whose entries keep passes.
func ReadLog(ctx context.Context, brokers []string, topic string, keep func(*LogEntry) bool) ([]Summary, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	want := map[string]map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if want[o.Topic] == nil {
				want[o.Topic] = map[int32]kgo.Offset{}
			}
			want[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
			left++
		}
	})
	byID := map[string]*Summary{}
	var order []string
	cl.AddConsumePartitions(want)
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(r.Topic, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if r.Offset == end.Offset-1 {
				left--
			}
			var e LogEntry
			if json.Unmarshal(r.Value, &e) != nil || !keep(&e) {
				return
			}
			s := byID[e.DeliveryID]
			if s == nil {
				s = &Summary{ID: e.DeliveryID}
				byID[e.DeliveryID] = s
				order = append(order, e.DeliveryID)
			}
			s.Attempts = max(s.Attempts, e.Attempt)
			if !e.At.Before(s.LastAt) {
				s.LastAt, s.LastCode, s.NextDue, s.Items = e.At, e.Status, e.NextDue, e.Items
				switch e.Outcome {
				case Delivered.String():
					s.Status = "delivered"
				case Retry.String():
					s.Status = "retrying"
				default:
					s.Status = "dead"
				}
			}
		})
	}
	out := make([]Summary, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}
