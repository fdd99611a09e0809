package endpoints

import (
	"context"
	"errors"
)

// Registry is what the pipeline needs from wherever endpoints live: the
// dispatcher looks up a record's tenant, the retrier re-reads an endpoint
// before each attempt, and both turn off an endpoint that answered 410.
// The file-backed Set implements it; so does every other store, held to
// the same behaviour by endpointstest.Run.
type Registry interface {
	// ForTenant returns the tenant's endpoints, disabled ones included
	// (Wants skips them). The slice must not be modified.
	ForTenant(tenant string) []*Endpoint
	// Get returns the endpoint with id, or nil when there is none.
	Get(id string) *Endpoint
	// Disable turns the endpoint off with reason. It returns an error
	// wrapping ErrNotFound for an unknown id.
	Disable(ctx context.Context, id, reason string) error
}

// ErrNotFound marks an endpoint id the registry does not hold.
var ErrNotFound = errors.New("endpoint not found")
