package testbackend

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Outage stands between a Kafka client and its brokers: a test cuts it to
// take Kafka away from that client alone (every connection closed, every
// dial refused), as a broker stopped or a network gone would, without
// touching the brokers other tests share.
type Outage struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// ErrOutage is what a dial during a cut returns.
var ErrOutage = errors.New("test outage: Kafka is unreachable")

// NewOutage returns an Outage that lets everything through until Cut.
func NewOutage() *Outage { return &Outage{conns: map[net.Conn]struct{}{}} }

// Opt is the client option that dials through o.
func (o *Outage) Opt() kgo.Opt { return kgo.Dialer(o.dial) }

func (o *Outage) dial(ctx context.Context, network, host string) (net.Conn, error) {
	o.mu.Lock()
	cut := o.cut
	o.mu.Unlock()
	if cut {
		return nil, ErrOutage
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cut {
		_ = c.Close()
		return nil, ErrOutage
	}
	o.conns[c] = struct{}{}
	return c, nil
}

// Cut closes every connection made through o and refuses new ones until
// Restore.
func (o *Outage) Cut() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cut = true
	for c := range o.conns {
		_ = c.Close()
	}
	clear(o.conns)
}

// Restore lets dials through again.
func (o *Outage) Restore() {
	o.mu.Lock()
	o.cut = false
	o.mu.Unlock()
}
