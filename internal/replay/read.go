package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readAt reads the record at loc with cl, which must consume nothing
// else. A record the topic no longer holds is ErrGone.
func readAt(ctx context.Context, cl *kgo.Client, loc deliverylog.Location) (*kgo.Record, error) {
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, loc.Topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	start, ok := starts.Lookup(loc.Topic, loc.Partition)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s has no partition %d", ErrGone, loc.Topic, loc.Partition)
	case start.Err != nil:
		return nil, fmt.Errorf("list start offset of %s/%d: %w", loc.Topic, loc.Partition, start.Err)
	case loc.Offset < start.Offset:
		return nil, fmt.Errorf("%w: %s/%d starts at offset %d now (its retention)", ErrGone, loc.Topic, loc.Partition, start.Offset)
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{loc.Topic: {loc.Partition: kgo.NewOffset().At(loc.Offset)}})
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s/%d: %w", t, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Offset > loc.Offset {
				// Compacted away or never a record (a transaction marker).
				return nil, fmt.Errorf("%w: no record at %s", ErrGone, loc)
			}
			if r.Offset == loc.Offset {
				return r, nil
			}
		}
	}
}

// Scan reads topics from their start up to their end offsets at the time of
// the call, with a client of brokers and opts (TLS, SASL), calling fn for
// each delivery record with its record timestamp.
func Scan(ctx context.Context, brokers []string, opts []kgo.Opt, topics []string, fn func(d *delivery.Delivery, at time.Time)) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	want := map[string]map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset <= 0 {
			return
		}
		if want[o.Topic] == nil {
			want[o.Topic] = map[int32]kgo.Offset{}
		}
		want[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		left++
	})
	if left == 0 {
		return nil
	}
	cl.AddConsumePartitions(want)
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s/%d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(r.Topic, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if d, err := delivery.FromRecord(r); err == nil {
				fn(d, r.Timestamp)
			}
			if r.Offset == end.Offset-1 {
				left--
			}
		})
	}
	return nil
}
