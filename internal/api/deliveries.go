package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hookline/hookline/internal/deliverylog"
)

// DeliveryReader reads the delivery log (deliverylog.Reader). Every method
// answers for one tenant; Delivery returns deliverylog.ErrNotFound for
// another tenant's id.
type DeliveryReader interface {
	Deliveries(ctx context.Context, tenant, endpointID, cursor string, limit int) ([]deliverylog.Delivery, string, error)
	Delivery(ctx context.Context, tenant, id string) (deliverylog.Delivery, error)
	Health(ctx context.Context, tenant, endpointID string, now time.Time) (deliverylog.Health, error)
}

// deliveryView is a delivery as the API shows it.
type deliveryView struct {
	ID         string              `json:"id"`
	EndpointID string              `json:"endpointId"`
	Status     string              `json:"status"`
	Attempts   int                 `json:"attempts"`
	Items      int                 `json:"items"`
	LastCode   int                 `json:"lastCode"`
	LatencyMS  int64               `json:"latencyMs"`
	LastError  string              `json:"lastError,omitempty"`
	NextDue    *time.Time          `json:"nextDue,omitempty"`
	FirstAt    time.Time           `json:"firstAt"`
	LastAt     time.Time           `json:"lastAt"`
	SplitFrom  string              `json:"splitFrom,omitempty"`
	SplitInto  []string            `json:"splitInto,omitempty"`
	History    []deliverylog.Entry `json:"history,omitempty"`
}

func deliveryOf(d deliverylog.Delivery) deliveryView {
	return deliveryView{
		ID: d.ID, EndpointID: d.EndpointID, Status: string(d.Status), Attempts: d.Attempts, Items: d.Items,
		LastCode: d.LastCode, LatencyMS: d.LatencyMS, LastError: d.LastError, NextDue: d.NextDue,
		FirstAt: d.FirstAt, LastAt: d.LastAt, SplitFrom: d.SplitFrom, SplitInto: d.SplitInto, History: d.History,
	}
}

type deliveryPage struct {
	Data       []deliveryView `json:"data"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Deliveries == nil {
		return unavailable("the delivery log")
	}
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	list, next, err := s.cfg.Deliveries.Deliveries(r.Context(), tenant, ep.ID, r.URL.Query().Get("cursor"), limit)
	if errors.Is(err, deliverylog.ErrBadCursor) {
		return badRequest("cursor", "cursor is not one this API issued; pass the nextCursor of the previous page")
	}
	if err != nil {
		return s.internal(r, "list deliveries", err)
	}
	page := deliveryPage{Data: make([]deliveryView, 0, len(list)), NextCursor: next}
	for _, d := range list {
		page.Data = append(page.Data, deliveryOf(d))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Deliveries == nil {
		return unavailable("the delivery log")
	}
	id := r.PathValue("id")
	d, err := s.cfg.Deliveries.Delivery(r.Context(), tenant, id)
	if errors.Is(err, deliverylog.ErrNotFound) {
		return notFound("delivery", id)
	}
	if err != nil {
		return s.internal(r, "read delivery", err)
	}
	v := deliveryOf(d)
	if v.History == nil {
		v.History = []deliverylog.Entry{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) endpointHealth(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Deliveries == nil {
		return unavailable("the delivery log")
	}
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	h, err := s.cfg.Deliveries.Health(r.Context(), tenant, ep.ID, s.cfg.Now())
	if err != nil && !errors.Is(err, deliverylog.ErrNotFound) {
		return s.internal(r, "read endpoint health", err)
	}
	// The log's view is the API's answer (its JSON names are the API's).
	v := h
	if v.State == "" {
		v.State = "healthy"
	}
	// The log knows attempts; only the registry knows the switch.
	if ep.Disabled {
		v.State, v.Reason = "disabled", ep.DisabledReason
	}
	if v.Recent == nil {
		v.Recent = []int{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
