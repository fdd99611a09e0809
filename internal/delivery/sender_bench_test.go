package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/signing"
)

// BenchmarkSender measures one single-event delivery's signing and its
// POST to a receiver that verifies the signature and answers 204, per
// header scheme, with allocations:
//
//	go test -run '^$' -bench Sender -benchmem ./internal/delivery/
//
// The POST's figures include the receiver's (same process); its
// allocations are the part a change here cannot move.
func BenchmarkSender(b *testing.B) {
	body := []byte(`{"type":"task.updated","eventId":"task:tsk_8QK3M2N4P5:2026-04-30T14:22:01.234Z","tenantId":"t-4f1c2a9e7b","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"tsk_8QK3M2N4P5","status":"Done"}}}`)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, scheme := range []string{endpoints.SchemeHookline, endpoints.SchemeStandard} {
		h := signing.HeadersFor("")
		var bad int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ := io.ReadAll(r.Body)
			if scheme == endpoints.SchemeHookline && r.Header.Get(h.Signature) != signing.HexSignature([]byte(secret), got) {
				bad++
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		s := NewSender(SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Scheme: scheme, Secrets: []string{secret}}
		d := &Delivery{ID: NewID(), EndpointID: "e", TenantID: "t", EventType: "task.updated", Items: 1, Body: body}
		b.Run(scheme+"/sign", func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				if sg := s.Sign(ep, d, now); sg.err != nil {
					b.Fatal(sg.err)
				}
			}
		})
		b.Run(scheme+"/post", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a := s.Send(context.Background(), ep, d); a.Status != http.StatusNoContent {
					b.Fatalf("attempt %+v", a)
				}
			}
			if bad > 0 {
				b.Fatalf("%d signatures did not verify", bad)
			}
		})
		srv.Close()
	}
}
