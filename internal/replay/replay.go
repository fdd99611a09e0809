// Package replay sends deliveries again: Retry now of one delivery, and
// bulk replays of an endpoint's dead letters at a rate. The API and the
// command line call it; the retrier does the sending.
//
// A replay writes the delivery, with its id, body and attempt count, to
// the Retry-now lane (retry.Policy.Lane), due at once, in a new epoch: the
// replay's Unix time in milliseconds, carried on its records. The retrier
// attempts lane records on arrival, so a replay never waits behind the
// records the tiers hold. The epoch makes the new chain supersede every
// record of the delivery written before it: the retrier's marks let a
// record of a lower epoch pass no mark of a higher one, so the copy still
// waiting in a tier is skipped when it falls due, and a delivery that got
// a 2xx is never sent again.
//
// Retry now reads the delivery from the one record the attempt log's
// index names (deliverylog.Reader.Locate): no topic is searched inside a
// request. A bulk replay reads the dead letters from their start, in the
// background.
package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNotFound is returned when no record holds the delivery asked for, or
// it is another tenant's.
var ErrNotFound = errors.New("delivery not found")

// ErrGone is returned when the log names the delivery's record but the
// topic no longer holds it (past its retention): there is nothing left
// to send.
var ErrGone = errors.New("delivery record no longer kept")

// Locator tells where a delivery's newest record is, or wraps
// deliverylog.ErrNotFound when the tenant has none; deliverylog.Reader
// implements it.
type Locator interface {
	Locate(ctx context.Context, tenant, id string) (deliverylog.Location, error)
}

// Replayer writes deliveries to the Retry-now lane, due at once, with
// their ids and bodies unchanged, in a new epoch.
type Replayer struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Topics names the dead letters. Zero value: the defaults.
	Topics kafka.Topics
	// Retry names the lane. Zero value: the defaults.
	Retry retry.Policy
	// Log locates a delivery's newest record (a deliverylog.Reader).
	// Required by One.
	Log Locator
	// KafkaOpts are extra client options: the user's TLS and SASL
	// (kafka.Security.Opts). Default none.
	KafkaOpts []kgo.Opt
}

// readTimeout bounds reading the one record Retry now sends; the caller's
// context may end it sooner.
const readTimeout = 10 * time.Second

func (p *Replayer) topics() kafka.Topics { return p.Topics.WithDefaults() }

// client is a producer with hookline's write guarantees, which One also
// reads the delivery's record with.
func (p *Replayer) client() (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(p.Brokers...)}, kafka.ProducerOpts()...)
	return kgo.NewClient(append(opts, p.KafkaOpts...)...)
}

// enqueue writes d to the lane, due now, in the epoch of now. Its position
// is the first tier's, as a replay's always was: a failure goes on to the
// second tier.
func (p *Replayer) enqueue(ctx context.Context, cl *kgo.Client, d *delivery.Delivery) error {
	now := time.Now()
	d.Due = now
	d.Reason = "replayed: " + d.Reason
	d.Tier = 0
	// The writer every record that must land goes through, bounded: a
	// Retry now is a request someone waits on.
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	w := &kafka.Writer{Client: cl}
	return w.Write(ctx, d.RecordInEpoch(p.Retry.Lane(), now.UnixMilli()))
}

// writeTimeout bounds one enqueue's tries while Kafka refuses it.
const writeTimeout = 10 * time.Second

// One sends tenant's delivery id again now (Retry now): a dead letter gets
// a new chain, a pending delivery moves forward (the record waiting in a
// tier is superseded), a delivered one is skipped by the retrier. It reads
// the delivery from the record Log names, its newest, and returns it as
// enqueued.
func (p *Replayer) One(ctx context.Context, tenant, id string) (*delivery.Delivery, error) {
	if p.Log == nil {
		return nil, errors.New("replay: no attempt-log index to locate deliveries in")
	}
	loc, err := p.Log.Locate(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, deliverylog.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, id, err)
		}
		return nil, err
	}
	cl, err := p.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	rec, err := readAt(rctx, cl, loc)
	if err != nil {
		return nil, fmt.Errorf("read delivery %s at %s: %w", id, loc, err)
	}
	d, err := delivery.FromRecord(rec)
	if err != nil || d.ID != id || d.TenantID != tenant {
		// The log and the topic disagree (a topic deleted and made
		// again): send nothing rather than another delivery.
		return nil, fmt.Errorf("%w: the record at %s is not delivery %s", ErrNotFound, loc, id)
	}
	return d, p.enqueue(ctx, cl, d)
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
	err := Scan(ctx, p.Brokers, p.KafkaOpts, []string{p.topics().Dead}, func(d *delivery.Delivery, at time.Time) {
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
