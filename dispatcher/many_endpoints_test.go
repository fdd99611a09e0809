package dispatcher_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

// TestManyEndpointsOfATenantMatchByType: with more endpoints than the
// dispatcher matches one by one, each still gets exactly the events its
// types, its origin filter and its state ask for.
func TestManyEndpointsOfATenantMatchByType(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		type want struct{ tasks, projects int }
		var eps []*endpoints.Endpoint
		sinks := map[string]*testbackend.Receiver{}
		wants := map[string]want{}
		for i := 0; i < 24; i++ {
			id := fmt.Sprintf("e%02d", i)
			s := newSink(t, "X-Hookline")
			sinks[id] = s
			var types []string
			w := want{}
			switch i % 4 {
			case 0:
				types, w = []string{"task.*"}, want{3, 0}
			case 1:
				types, w = []string{"project.created"}, want{0, 2}
			case 2:
				types, w = nil, want{3, 2} // every type
			case 3:
				types, w = []string{"member.joined"}, want{0, 0}
			}
			ep := endpointFor(id, "t-1", s, func(e *endpoints.Endpoint) { e.MaxItems = 1; e.EventTypes = types })
			switch {
			case i == 2:
				ep.Disabled, w = true, want{}
			case i == 6:
				ep.IgnoreOrigins, w = []string{"sync"}, want{2, 2} // one task comes from "sync"
			}
			eps = append(eps, ep)
			wants[id] = w
		}
		f := newFixture(t, b, append(eps, endpointFor("other-tenant", "t-2", newSink(t, "X-Hookline"), nil)), nil)
		sync := taskEvent("t-1", "c", "x")
		sync.Origin = "sync"
		f.publish(t, taskEvent("t-1", "a", "x"), taskEvent("t-1", "b", "x"), sync,
			producer.Event{Type: "project.created", TenantID: "t-1", Data: map[string]any{"project": map[string]any{"id": "p1", "name": "P"}}},
			producer.Event{Type: "project.created", TenantID: "t-1", Data: map[string]any{"project": map[string]any{"id": "p2", "name": "Q"}}})
		total := 0
		for _, w := range wants {
			total += w.tasks + w.projects
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := 0
			for _, s := range sinks {
				p, _ := s.Snapshot()
				got += len(p)
			}
			if got >= total || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // anything extra would arrive now
		for id, w := range wants {
			posts, _ := sinks[id].Snapshot()
			tasks, projects := 0, 0
			for _, p := range posts {
				for _, ev := range events(t, p.Body) {
					switch ev["type"] {
					case "task.created":
						tasks++
					case "project.created":
						projects++
					}
				}
			}
			if tasks != w.tasks || projects != w.projects {
				t.Errorf("%s got %d task and %d project events, want %d and %d", id, tasks, projects, w.tasks, w.projects)
			}
		}
	})
}
