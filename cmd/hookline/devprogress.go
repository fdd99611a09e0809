package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/retrier"
)

// progress prints one summary line a second (every 5 s to a pipe) until
// ctx ends.
func (d *devDemo) progress(ctx context.Context, disp *dispatcher.Dispatcher, ret *retrier.Retrier) {
	tty := isTerminal(os.Stdout)
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	kafka.Every(ctx, every, func(context.Context) {
		ds, rs := disp.Stats(), ret.Stats()
		// Deliveries in the retry tiers: handed in by the dispatcher, not
		// yet delivered, dead-lettered or found done by the retrier.
		retrying := max(ds.Retried+ds.Deferred-rs.Delivered-rs.Dead-rs.AlreadyDone, 0)
		var produced int64
		apps := make([]appProgress, len(d.apps))
		for i, a := range d.apps {
			produced += a.produced.Load()
			apps[i] = appProgress{ID: a.id(), Stats: a.recv.Stats()}
		}
		line := progressLine(produced, apps, retrying, ds.Dead+rs.Dead)
		if tty {
			fmt.Printf("\r\033[K%s", line)
		} else {
			fmt.Println(line)
		}
	})
}

// appProgress is what one application's receiver counted.
type appProgress struct {
	ID    string
	Stats demo.Stats
}

// progressLine is the demo's summary, read by a person at a terminal:
// the events produced; per application the events its receiver took (an
// event matching two endpoints counts twice), in how many verified POSTs,
// and its bad signatures; then the deliveries waiting in the retry tiers
// and the dead letters. A stale timestamp, a malformed delivery or an
// event of another application is added to its application's part only
// when there is one: each means something is wrong.
func progressLine(produced int64, apps []appProgress, retrying, dead int64) string {
	parts := make([]string, len(apps))
	for i, a := range apps {
		s := a.Stats
		p := fmt.Sprintf("%s: %s events → %s POSTs, %s bad signatures", a.ID, grouped(s.Events), grouped(s.Verified), grouped(s.Rejected))
		for _, x := range []struct {
			n    int64
			what string
		}{{s.Stale, "stale timestamps"}, {s.Malformed, "malformed"}, {s.Foreign, "foreign events"}} {
			if x.n > 0 {
				p += fmt.Sprintf(", %s %s", grouped(x.n), x.what)
			}
		}
		parts[i] = p
	}
	return fmt.Sprintf("produced %s · %s · retrying %s · dead %s", grouped(produced), strings.Join(parts, " | "), grouped(retrying), grouped(dead))
}

// grouped writes n with a comma between each group of three digits.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
