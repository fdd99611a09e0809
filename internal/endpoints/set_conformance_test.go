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
	endpointstest.Run(t, func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry {
		s, err := endpoints.NewSet(eps...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, endpointstest.Options{})
}
