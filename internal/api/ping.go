package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/payload"
)

// Pinger signs and POSTs one delivery, as the pipeline does
// (delivery.Sender).
type Pinger interface {
	Send(ctx context.Context, ep *endpoints.Endpoint, d *delivery.Delivery) delivery.Attempt
}

// PingType is the event type of test deliveries. It is not in the catalog:
// no service publishes it, and receivers can tell tests apart by it.
const PingType = "ping"

// ping sends a test delivery to ep: one ping envelope, in an array when the
// endpoint takes batches, signed with the endpoint's secrets and scheme.
func (s *Server) ping(ctx context.Context, ep *endpoints.Endpoint) delivery.Attempt {
	id := delivery.NewID()
	env := envelope.Envelope{
		Type: PingType, EventID: "ping:" + id, TenantID: ep.TenantID,
		CreatedUTC: envelope.NowUTC(s.cfg.Now()),
		Data:       map[string]any{"endpoint": map[string]any{"id": ep.ID, "name": ep.Name}, "message": "test delivery from hookline"},
	}
	body, err := envelope.AppendJSON(nil, &env)
	if err != nil {
		return delivery.Attempt{Err: fmt.Errorf("encode ping: %w", err)}
	}
	// The ping takes the body shape deliveries take (legacy, thin, a
	// template), so a receiver strict about its body accepts it; a
	// template that cannot make a ping sends the envelope as it is.
	// Shapes take the event's object from data.<object>, here data.ping,
	// which carries an id as every object does.
	if spec := ep.Resolved().Payload; !spec.IsFull() {
		obj := map[string]any{"id": "ping:" + id, "endpoint": env.Data["endpoint"], "message": env.Data["message"]}
		env.Data = map[string]any{PingType: obj}
		if raw, err := envelope.AppendJSON(nil, &env); err == nil {
			if sh, err := payload.New(spec, s.cfg.Catalog); err == nil {
				if shaped, err := sh.Append(nil, raw); err == nil {
					body = shaped
				}
			}
		}
	}
	d := &delivery.Delivery{ID: id, EndpointID: ep.ID, TenantID: ep.TenantID, EventType: PingType, Items: 1, Body: body, Tier: -1}
	if ep.Limits().MaxItems > 1 {
		d.Batch = true
		d.Body = append(append([]byte{'['}, body...), ']')
	}
	return s.cfg.Pinger.Send(ctx, ep, d)
}

// pingFailure says why a ping did not count as accepted, or "" when it did.
func pingFailure(a delivery.Attempt) string {
	switch {
	case a.Err != nil:
		return a.Err.Error()
	case a.Status < 200 || a.Status > 299:
		msg := fmt.Sprintf("answered HTTP %d", a.Status)
		if ex := strings.TrimSpace(string(a.Excerpt)); ex != "" {
			if len(ex) > 200 {
				ex = ex[:200]
			}
			msg += ": " + ex
		}
		return msg
	}
	return ""
}

// verify pings ep and refuses it unless the receiver answered 2xx.
func (s *Server) verify(ctx context.Context, ep *endpoints.Endpoint) error {
	a := s.ping(ctx, ep)
	if why := pingFailure(a); why != "" {
		if errors.Is(a.Err, delivery.ErrTokenEndpoint) {
			return badRequest("auth", "the test POST could not get an OAuth2 token (%s); fix the credentials or send \"verify\": false to skip the check", why)
		}
		return badRequest("url", "the test POST to url failed (%s); fix the receiver or send \"verify\": false to skip the check", why)
	}
	return nil
}

type testResult struct {
	OK        bool   `json:"ok"`
	Status    int    `json:"status"`
	LatencyMS int64  `json:"latencyMs"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	a := s.ping(r.Context(), ep)
	why := pingFailure(a)
	writeJSON(w, http.StatusOK, testResult{OK: why == "", Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Error: why})
	return nil
}
