package retrier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNotFound is returned when no record holds the delivery asked for.
var ErrNotFound = errors.New("delivery not found")

// Scan reads topics from their start up to their end offsets at the time of
// the call, calling fn for each delivery record with its record timestamp.
func Scan(ctx context.Context, brokers []string, topics []string, fn func(d *delivery.Delivery, at time.Time)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
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

// replayHeader carries a replayed chain's epoch (the replay's Unix time in
// milliseconds) on its records, from tier to tier. A record of a higher
// epoch passes the delivery's dead and handed marks of lower epochs, so a
// replay works without a Redis connection here, and a second replay of a
// chain still running supersedes the first instead of forking it.
const replayHeader = "hl-replay"

// replayEpoch is rec's replay epoch; 0 for a chain never replayed.
func replayEpoch(rec *kgo.Record) int64 {
	for _, h := range rec.Headers {
		if h.Key == replayHeader {
			e, _ := strconv.ParseInt(string(h.Value), 10, 64)
			return e
		}
	}
	return 0
}

// deliveryRecord is d's record for topic, carrying epoch forward.
func deliveryRecord(d *delivery.Delivery, epoch int64, topic string) *kgo.Record {
	rec := d.Record(topic)
	if epoch != 0 {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: replayHeader, Value: strconv.AppendInt(nil, epoch, 10)})
	}
	return rec
}

// Replayer re-enqueues deliveries into the first retry tier, due at once,
// with their ids and bodies unchanged, in a new epoch. The retrier's done
// marks make a replay of something already delivered a no-op.
type Replayer struct {
	Brokers []string
	// Topics names the dead letters. Zero value: the defaults.
	Topics kafka.Topics
	// Retry names the tiers. Zero value: the defaults.
	Retry retry.Policy
}

func (p *Replayer) topics() kafka.Topics { return p.Topics.WithDefaults() }

func (p *Replayer) enqueue(ctx context.Context, cl *kgo.Client, d *delivery.Delivery) error {
	d.Due = time.Now()
	d.Reason = "replayed: " + d.Reason
	d.Tier = 0
	return cl.ProduceSync(ctx, deliveryRecord(d, d.Due.UnixMilli(), p.Retry.Topic(0))).FirstErr()
}

func (p *Replayer) client() (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.Brokers...)}, kafka.ProducerOpts()...)...)
}

// One re-enqueues delivery id, found among dead letters or retry tiers.
// Its records there are the steps of its chain (and copies of them), read
// in no order across topics; the one with the most attempts is the
// newest, since a replay carries the count on.
func (p *Replayer) One(ctx context.Context, id string) (*delivery.Delivery, error) {
	return p.one(ctx, id, nil)
}

// one is One for the deliveries of the tenants keep accepts (nil: all).
func (p *Replayer) one(ctx context.Context, id string, keep func(tenant string) bool) (*delivery.Delivery, error) {
	t := p.topics()
	var found *delivery.Delivery
	err := Scan(ctx, p.Brokers, append([]string{t.Dead}, p.Retry.Topics()...), func(d *delivery.Delivery, _ time.Time) {
		if d.ID == id && (keep == nil || keep(d.TenantID)) && (found == nil || d.Attempt >= found.Attempt) {
			found = d
		}
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s is in no dead letter or retry tier", ErrNotFound, id)
	}
	cl, err := p.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return found, p.enqueue(ctx, cl, found)
}

// Bulk re-enqueues the endpoint's dead letters written in [since, until)
// (zero until: now), at most rate a second, calling progress after each.
// It returns how many it enqueued.
func (p *Replayer) Bulk(ctx context.Context, endpoint string, since, until time.Time, rate float64, progress func(done, total int)) (int, error) {
	return p.bulk(ctx, endpoint, since, until, rate, nil, progress)
}

// bulk is Bulk for the deliveries of the tenants keep accepts (nil: all).
func (p *Replayer) bulk(ctx context.Context, endpoint string, since, until time.Time, rate float64, keep func(tenant string) bool, progress func(done, total int)) (int, error) {
	if until.IsZero() {
		until = time.Now()
	}
	latest := map[string]*delivery.Delivery{}
	var order []string
	err := Scan(ctx, p.Brokers, []string{p.topics().Dead}, func(d *delivery.Delivery, at time.Time) {
		if d.EndpointID != endpoint || at.Before(since) || !at.Before(until) || (keep != nil && !keep(d.TenantID)) {
			return
		}
		if _, seen := latest[d.ID]; !seen {
			order = append(order, d.ID)
		}
		latest[d.ID] = d
	})
	if err != nil {
		return 0, err
	}
	if progress != nil {
		progress(0, len(order))
	}
	cl, err := p.client()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	for i, id := range order {
		if tick != nil && i > 0 {
			select {
			case <-ctx.Done():
				return i, ctx.Err()
			case <-tick:
			}
		}
		if err := p.enqueue(ctx, cl, latest[id]); err != nil {
			return i, fmt.Errorf("enqueue %s: %w", id, err)
		}
		if progress != nil {
			progress(i+1, len(order))
		}
	}
	return len(order), nil
}
