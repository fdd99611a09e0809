package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors a Replayer (or any store behind the API) wraps so the
// API can answer with the right status.
var (
	// ErrNotFound: no such delivery, endpoint or job for this tenant (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request cannot be done in the resource's state (409).
	ErrConflict = errors.New("conflict")
)

// apiError is every error response: a message for people and the request
// field at fault, so clients can point at it.
type apiError struct {
	status int
	Msg    string `json:"error"`
	Field  string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Msg }

func errorf(status int, field, format string, a ...any) *apiError {
	return &apiError{status: status, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func badRequest(field, format string, a ...any) *apiError {
	return errorf(http.StatusBadRequest, field, format, a...)
}

func notFound(what, id string) *apiError {
	return errorf(http.StatusNotFound, "", "%s %q not found", what, id)
}

// writeJSON sends v with status. Encoding errors cannot reach the client
// any more (the status is out), so they are dropped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handlerFunc is a route that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error
