package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// ErrTooLarge marks a record its topic refused for its size.
var ErrTooLarge = errors.New("record too large for the topic")

// Back-off between tries of a write that failed for another reason than
// its size (a missing topic, an authorization error, brokers away).
const (
	writeRetryMin = 50 * time.Millisecond
	writeRetryMax = 5 * time.Second
)

// Writer writes the records the pipeline depends on (a delivery handed to
// a retry tier or the dead letters, an invalid record) until they land:
// dropping one would lose what it carries. The zero value is not usable:
// Client is required.
type Writer struct {
	// Client produces with acks=all (ProducerOpts). Required.
	Client *kgo.Client
	// Log receives a line per failed try. Default: silent.
	Log *zap.Logger
	// Failed, when set, is told of each failed try (a metric).
	Failed func()
	// Ensure, when set, creates a topic found missing before the next try.
	Ensure func(ctx context.Context, topic string) error
}

// Write produces rec until it lands, or ctx ends (its error returned). A
// record too large for its topic returns ErrTooLarge (wrapped) at once,
// for the caller to split or redirect; every other failure is logged and
// tried again with back-off (50ms doubling to 5s), as long as it lasts.
func (w *Writer) Write(ctx context.Context, rec *kgo.Record) error {
	return w.write(ctx, rec, false)
}

// WriteAll is Write for a topic that must take rec whatever its size (the
// dead letters): a size refusal is logged and tried again too, since the
// topic's limit can only be fixed by an operator.
func (w *Writer) WriteAll(ctx context.Context, rec *kgo.Record) error {
	return w.write(ctx, rec, true)
}

func (w *Writer) write(ctx context.Context, rec *kgo.Record, all bool) error {
	log := w.Log
	if log == nil {
		log = zap.NewNop()
	}
	wait := writeRetryMin
	for try := 1; ; try++ {
		err := w.Client.ProduceSync(ctx, rec).FirstErr()
		if err == nil {
			if try > 1 {
				log.Info("write recovered", zap.String("topic", rec.Topic), zap.Int("tries", try))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tooLarge := errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
		if tooLarge && !all {
			return fmt.Errorf("%w: %s: %w", ErrTooLarge, rec.Topic, err)
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) && w.Ensure != nil {
			if cerr := w.Ensure(ctx, rec.Topic); cerr != nil {
				err = fmt.Errorf("%w; creating it: %w", err, cerr)
			}
		}
		if w.Failed != nil {
			w.Failed()
		}
		fields := []zap.Field{zap.String("topic", rec.Topic), zap.Int("try", try), zap.Duration("wait", wait), zap.Error(err)}
		if permanent(err) {
			log.Error("write refused; its records stay uncommitted and it is tried again until the cause is fixed", fields...)
		} else {
			log.Warn("write failed; its records stay uncommitted and it is tried again", fields...)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, writeRetryMax)
	}
}

// permanent tells a refusal no retry of the same write overcomes without
// an operator. An unknown topic comes back only after the client's own
// retries.
func permanent(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && (!ke.Retriable || errors.Is(err, kerr.UnknownTopicOrPartition))
}
