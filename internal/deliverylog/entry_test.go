package deliverylog

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestEntryEncodesLikeEncodingJSON(t *testing.T) {
	due := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	for _, e := range []Entry{
		{DeliveryID: "0123456789abcdef01234567", EndpointID: "ep1", TenantID: "t-1", Attempt: 2, Items: 10000, Status: 503,
			LatencyMS: 12, Outcome: "retry", Error: "HTTP 503", Response: "busy \"now\"\n\x01é", At: time.Unix(1795392510, 5).UTC(), NextDue: &due},
		{DeliveryID: "x", Outcome: "delivered", Status: 204, At: time.Unix(0, 0).UTC()},
		{DeliveryID: "y", Outcome: OutcomeSplit, At: time.Unix(0, 0).UTC(), SplitFrom: "w", SplitInto: []string{"a", "b\"c"}},
		{DeliveryID: "z", Outcome: "dead", At: time.Unix(0, 0).UTC(), Record: &Location{Topic: "hookline.dead", Partition: 2, Offset: 1 << 40}},
	} {
		var got, want Entry
		if err := json.Unmarshal(e.appendJSON(nil), &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", e.appendJSON(nil), err)
		}
		std, _ := json.Marshal(e)
		_ = json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded differently:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestLocationRoundTrips(t *testing.T) {
	for _, l := range []Location{{Topic: "hookline.retry.1m0s", Partition: 0, Offset: 0}, {Topic: "a.b-c_d", Partition: 11, Offset: 1 << 50}} {
		got, ok := ParseLocation(l.String())
		if !ok || got != l {
			t.Fatalf("%v -> %q -> %v %v", l, l.String(), got, ok)
		}
	}
	for _, bad := range []string{"", "t", "t/1", "t@1", "/1@2", "t/x@1", "t/1@-1", "t/-1@1", "t@1/2"} {
		if l, ok := ParseLocation(bad); ok {
			t.Fatalf("%q parsed as %v", bad, l)
		}
	}
}
