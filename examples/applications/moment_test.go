package examples

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
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
