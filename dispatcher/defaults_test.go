package dispatcher_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envelopeValue is a record value as a non-hookline client would write it:
// the envelope alone, no headers.
func envelopeValue(tenant, id string, pad int) []byte {
	notes := make([]byte, pad/2)
	_, _ = rand.Read(notes)
	return []byte(`{"type":"task.created","eventId":"task:` + id + `","tenantId":"` + tenant + `","createdUtc":"` +
		envelope.NowUTC(time.Now()) + `","data":{"task":{"id":"` + id + `","notes":"` + hex.EncodeToString(notes) + `"}}}`)
}

// TestBatchDefaults holds the default batching to its numbers with
// endpoints that set no limits: 10,001 events give one delivery of exactly
// 10,000 and one of 1 sent about 30 s later; events of 200 KB are cut into
// deliveries of at most 5 MiB.
func TestBatchDefaults(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		t.Parallel() // each backend waits out the 30 s once, side by side
		s := newSink(t, "X-Hookline")
		byItems := endpointFor("ep-items", "t-1", s, nil)
		byBytes := endpointFor("ep-bytes", "t-2", s, nil)
		f := newFixture(t, b, []*endpoints.Endpoint{byItems, byBytes}, nil)
		cl := b.Client(t, kgo.DefaultProduceTopic(f.topics.Events), kgo.ProducerBatchMaxBytes(900_000))
		var recs []*kgo.Record
		for i := 0; i < 10_001; i++ {
			recs = append(recs, &kgo.Record{Key: []byte("t-1/" + strconv.Itoa(i)), Value: envelopeValue("t-1", strconv.Itoa(i), 0)})
		}
		const big = 200_000
		for i := 0; i < 30; i++ {
			recs = append(recs, &kgo.Record{Key: []byte("t-2/" + strconv.Itoa(i)), Value: envelopeValue("t-2", "b"+strconv.Itoa(i), big)})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		s.Delivered(t, 10_031, 60*time.Second)
		posts, _ := s.Snapshot()
		var items, bytesPosts []testbackend.Post
		for _, p := range posts {
			if p.Header.Get("X-Hookline-Event") == "" {
				continue
			}
			if len(events(t, p.Body)) > 0 && events(t, p.Body)[0]["tenantId"] == "t-1" {
				items = append(items, p)
			} else {
				bytesPosts = append(bytesPosts, p)
			}
		}
		if len(items) != 2 || len(events(t, items[0].Body)) != 10_000 || len(events(t, items[1].Body)) != 1 {
			t.Fatalf("t-1: %d posts, want 10,000 events then 1", len(items))
		}
		if gap := items[1].At.Sub(items[0].At); gap < 29*time.Second || gap > 36*time.Second {
			t.Fatalf("the lone event went %s after the full batch, want about 30 s", gap)
		}
		n := 0
		for i, p := range bytesPosts {
			n += len(events(t, p.Body))
			if len(p.Body) > endpoints.DefaultMaxBytes {
				t.Fatalf("delivery %d is %d bytes, over 5 MiB", i, len(p.Body))
			}
			if i < len(bytesPosts)-1 && len(p.Body) < endpoints.DefaultMaxBytes-big-200 {
				t.Fatalf("delivery %d sealed at %d bytes, well under 5 MiB", i, len(p.Body))
			}
		}
		if n != 30 {
			t.Fatalf("t-2 got %d of 30 events", n)
		}
		t.Logf("defaults: %d + %d events %s apart; 200 KB events in deliveries of %d bytes (cap %d)",
			len(events(t, items[0].Body)), len(events(t, items[1].Body)), items[1].At.Sub(items[0].At).Round(time.Millisecond),
			len(bytesPosts[0].Body), endpoints.DefaultMaxBytes)
	})
}
