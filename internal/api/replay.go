package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/replay"
	"go.uber.org/zap"
)

// Replayer sends dead or failed deliveries again (replay.Jobs). Every
// method acts for one tenant and wraps replay.ErrNotFound (or ErrNotFound)
// for an id that is not the tenant's, and ErrConflict (or replay.ErrGone)
// when the request cannot apply.
type Replayer interface {
	// RetryNow sends the delivery again at once, with its id and body.
	RetryNow(ctx context.Context, tenant, deliveryID string) error
	// Start begins resending the endpoint's dead letters written between
	// since and until, at most rate a second, and returns the job at once.
	// A delivery answered 2xx is never sent again.
	Start(ctx context.Context, tenant, endpointID string, since, until time.Time, rate float64) (replay.Job, error)
	// Job reports a replay's progress.
	Job(ctx context.Context, tenant, id string) (replay.Job, error)
}

// jobView is a replay's progress as the API shows it.
type jobView struct {
	ID         string     `json:"id"`
	EndpointID string     `json:"endpointId"`
	State      string     `json:"state"`
	Since      time.Time  `json:"since"`
	Until      time.Time  `json:"until"`
	Rate       float64    `json:"rate"`
	Done       int        `json:"done"`
	Total      int        `json:"total"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"startedAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

func jobOf(j replay.Job) jobView {
	v := jobView{ID: j.ID, EndpointID: j.EndpointID, State: j.State, Since: j.Since, Until: j.Until, Rate: j.Rate,
		Done: j.Done, Total: j.Total, Error: j.Error, StartedAt: j.Started, UpdatedAt: j.Updated}
	if !j.Finished.IsZero() {
		f := j.Finished
		v.FinishedAt = &f
	}
	return v
}

// Replay limits.
const (
	defaultReplayRate = 50
	maxReplayRate     = 1000
)

func (s *Server) replayErr(r *http.Request, what, id string, err error) error {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, replay.ErrNotFound), errors.Is(err, deliverylog.ErrNotFound), errors.Is(err, endpoints.ErrNotFound):
		return notFound(what, id)
	case errors.Is(err, ErrConflict), errors.Is(err, replay.ErrGone):
		return errorf(http.StatusConflict, "", "%v", err)
	}
	return s.internal(r, what+" replay", err)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Replayer == nil {
		return unavailable("retrying deliveries")
	}
	id := r.PathValue("id")
	// The log decides ownership first, so another tenant's id is not
	// found even if the Replayer were lax.
	if s.cfg.Deliveries != nil {
		if _, err := s.cfg.Deliveries.Delivery(r.Context(), tenant, id); err != nil {
			return s.replayErr(r, "delivery", id, err)
		}
	}
	if err := s.cfg.Replayer.RetryNow(r.Context(), tenant, id); err != nil {
		return s.replayErr(r, "delivery", id, err)
	}
	s.log.Info("delivery retry requested", zap.String("tenant", tenant), zap.String("delivery", id))
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "retrying"})
	return nil
}

type replayInput struct {
	Since, Until *time.Time
	Rate         *int
}

func (s *Server) replayEndpoint(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Replayer == nil {
		return unavailable("replaying endpoints")
	}
	ep, err := s.owned(tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in replayInput
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, false, map[string]any{"since": &in.Since, "until": &in.Until, "rate": &in.Rate}); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if in.Since == nil {
		return badRequest("since", "since is required (RFC 3339 time)")
	}
	until, rate := now, defaultReplayRate
	if in.Until != nil {
		until = *in.Until
	}
	if in.Rate != nil {
		rate = *in.Rate
	}
	switch {
	case !in.Since.Before(until):
		return badRequest("since", "since must be before until")
	case until.After(now.Add(time.Minute)):
		return badRequest("until", "until must not be in the future")
	case rate < 1 || rate > maxReplayRate:
		return badRequest("rate", "rate must be 1 to %d deliveries a second", maxReplayRate)
	}
	job, err := s.cfg.Replayer.Start(r.Context(), tenant, ep.ID, *in.Since, until, float64(rate))
	if err != nil {
		return s.replayErr(r, "endpoint", ep.ID, err)
	}
	s.log.Info("replay started", zap.String("tenant", tenant), zap.String("endpoint", ep.ID), zap.String("job", job.ID))
	w.Header().Set("Location", "/v1/replays/"+job.ID)
	writeJSON(w, http.StatusAccepted, jobOf(job))
	return nil
}

func (s *Server) replayJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	if s.cfg.Replayer == nil {
		return unavailable("replaying endpoints")
	}
	id := r.PathValue("id")
	job, err := s.cfg.Replayer.Job(r.Context(), tenant, id)
	if err != nil {
		return s.replayErr(r, "replay", id, err)
	}
	writeJSON(w, http.StatusOK, jobOf(job))
	return nil
}
