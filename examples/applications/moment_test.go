package examples

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMoment: a Moment integration gets one POST per changed object, its
// body the limited {"event": ..., "<object>": {ids}} and nothing of the
// envelope; the finalized invoice arrives exactly as the document prints
// it, and its id is what the receiver's API call fetches.
func TestMoment(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		rc := newReceiver(t, momentContract())
		d.endpoint(t, &endpoints.Endpoint{ID: "moment", Application: momentID, URL: rc.URL(), Secrets: []string{randomSecret("")}})

		const invoiceID = 106939080 // the document's
		types := d.apps[momentID].EventTypes
		want := map[string]any{} // object id -> body
		for i, et := range types {
			n := 500 + i
			if et.Name == "invoice.changed" {
				n = invoiceID
			}
			ev := event(momentID, et.Name, n)
			d.publish(t, ev)
			want[strconv.Itoa(n)] = roundTrip(t, ev.Data)
		}
		posts := rc.waitEvents(t, len(types), 30*time.Second)
		if len(posts) != len(types) {
			t.Fatalf("%d POSTs for %d changes, want one each", len(posts), len(types))
		}
		for _, p := range posts {
			var body any
			if err := json.Unmarshal(p.body, &body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body, want[p.ids[0]]) {
				t.Errorf("body %s, want %v", p.body, want[p.ids[0]])
			}
		}
		doc := `{"event": "CREATE_NEW", "invoice": {"id": 106939080, "invoiceNumber": 1,
			"customer": {"id": 62788973, "customerNumber": "10001"}, "project": {"id": 62788980, "projectNumber": "1"}}}`
		var sample any
		if err := json.Unmarshal([]byte(doc), &sample); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want[strconv.Itoa(invoiceID)], sample) {
			t.Errorf("the finalized invoice's body is %v, want the document's %v", want[strconv.Itoa(invoiceID)], sample)
		}
	})
}

// TestMomentThinBodiesKeepTheApplicationsRefs: a Moment endpoint that
// asks for hookline's thin body instead of the document's gets the ids
// Moment's catalog declares (x-hookline-refs: the event and the invoice's
// customer and project ids), not only the invoice's id: a thin body keeps
// what its application's catalog names, not the default catalog's.
func TestMomentThinBodiesKeepTheApplicationsRefs(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		secret := randomSecret("")
		rc := newReceiver(t, contract{product: momentID, prefix: "X-Hookline", check: func(r *http.Request, body []byte) ([]string, error) {
			if !verifyMomentumSignature(body, r.Header.Get("X-Hookline-Signature"), secret) {
				return nil, errSignature
			}
			return []string{"thin"}, nil
		}})
		d.endpoint(t, &endpoints.Endpoint{ID: "moment-thin", Application: momentID, URL: rc.URL(), Secrets: []string{secret},
			Payload: &payload.Spec{Shape: payload.ShapeThin}})
		d.publish(t, event(momentID, "invoice.changed", 106939080))
		body := rc.waitEvents(t, 1, 30*time.Second)[0].body
		var thin struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &thin); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"event": "CREATE_NEW", "invoice": map[string]any{"id": 106939080.0,
			"customer": map[string]any{"id": 62788973.0}, "project": map[string]any{"id": 62788980.0}}}
		if thin.Type != "invoice.changed" || !reflect.DeepEqual(thin.Data, want) {
			t.Errorf("thin body %s, want data %v", body, want)
		}
	})
}
