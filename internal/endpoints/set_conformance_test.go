package endpoints_test

import (
	"testing"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/endpoints/endpointstest"
)

func TestSetConformance(t *testing.T) {
	endpointstest.Run(t, func(t *testing.T, eps ...*endpoints.Endpoint) endpoints.Registry {
		s, err := endpoints.NewSet(eps...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, endpointstest.Options{})
}
