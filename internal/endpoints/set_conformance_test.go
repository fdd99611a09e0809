package endpoints_test

import (
	"testing"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/endpoints/endpointstest"
)

// TestSetConformance holds the file-backed Set to the conformance suite
// every endpoints.Registry passes; internal/registry runs the same suite
// against the Kafka-backed store.
func TestSetConformance(t *testing.T) {
	dialects := map[*endpoints.Set]map[string]*endpoints.Dialect{}
	endpointstest.Run(t, func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry {
		s, err := endpoints.NewSet(eps...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, endpointstest.Options{Dialect: func(t *testing.T, r endpoints.Registry, app string, d endpoints.Dialect) {
		s := r.(*endpoints.Set)
		if dialects[s] == nil {
			dialects[s] = map[string]*endpoints.Dialect{}
		}
		dialects[s][app] = &d
		s.Attach(func(a string) *endpoints.Dialect { return dialects[s][a] })
	}})
}
