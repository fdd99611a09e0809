package examples

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

// TestMomentumpro: a Momentumpro receiver gets each of the nineteen types
// alone in a POST as {event, occurred_at, data}, data being the object the
// service published (the leave.approved data is the document's sample),
// with a bare hex X-Momentumpro-Signature and a fresh
// X-Momentumpro-Timestamp, checked by the document's verifier.
func TestMomentumpro(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		secret := randomSecret("pro-")
		rc := newReceiver(t, proContract(secret))
		ep := d.endpoint(t, &endpoints.Endpoint{ID: "pro", Application: proID, URL: rc.URL(), Secrets: []string{secret}})
		dl := ep.Resolved()
		wantDelays := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 12 * time.Hour}
		if dl.RetryPolicy != "5xx" || !slices.Equal(dl.Delays(), wantDelays) {
			t.Fatalf("a Momentumpro endpoint resolves retries %q after %v, want 5xx after %v", dl.RetryPolicy, dl.Delays(), wantDelays)
		}

		types := d.apps[proID].EventTypes
		want := map[string]any{} // object id -> the object published
		for i, et := range types {
			n := 200 + i
			if et.Name == "leave.approved" {
				n = 123 // the document's sample
			}
			ev := event(proID, et.Name, n)
			d.publish(t, ev)
			want[strconv.Itoa(n)] = roundTrip(t, ev.Data).(map[string]any)[strings.Split(et.Name, ".")[0]]
		}
		posts := rc.waitEvents(t, len(types), 30*time.Second)
		if len(posts) != len(types) {
			t.Fatalf("%d POSTs for %d events, want one each", len(posts), len(types))
		}
		bareHex := regexp.MustCompile(`^[0-9a-f]{64}$`)
		for _, p := range posts {
			var body struct {
				Event      string         `json:"event"`
				OccurredAt string         `json:"occurred_at"`
				Data       map[string]any `json:"data"`
			}
			if err := json.Unmarshal(p.body, &body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body.Data, want[p.ids[0]]) {
				t.Errorf("%s data %v, want the object published, %v", body.Event, body.Data, want[p.ids[0]])
			}
			if sig := p.header.Get("X-Momentumpro-Signature"); !bareHex.MatchString(sig) {
				t.Errorf("X-Momentumpro-Signature %q is not bare hex", sig)
			}
			// The document names no user agent: the deployment's applies.
			if ua := p.header.Get("User-Agent"); ua != delivery.DefaultUserAgent {
				t.Errorf("User-Agent %q, want the deployment's %q", ua, delivery.DefaultUserAgent)
			}
			if body.Event == "leave.approved" {
				doc := `{"id": 123, "employee_id": 45, "leave_type": "Annual", "from": "2026-05-10", "to": "2026-05-14", "days": 5, "approved_by": 12}`
				var sample map[string]any
				_ = json.Unmarshal([]byte(doc), &sample)
				if !reflect.DeepEqual(body.Data, sample) {
					t.Errorf("leave.approved data %v, want the document's sample %v", body.Data, sample)
				}
			}
		}
	})
}

// TestMomentumproRetriesOnly5xxAndTimeouts: under the document's rules, a
// 4xx is final (one POST, then a dead letter), a 5xx is retried on every
// wait of the schedule and dropped after the fifth retry (six POSTs, then
// a dead letter), and a timeout is retried. The endpoints shorten the
// schedule to five waits of a second and the timeout to one second.
func TestMomentumproRetriesOnly5xxAndTimeouts(t *testing.T) {
	t.Parallel()
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		d := deploy(t, b)
		schedule := slices.Repeat([]endpoints.Duration{endpoints.Duration(time.Second)}, 5)
		give := func(id string, status int, hold time.Duration) (*receiver, *endpoints.Endpoint) {
			secret := randomSecret("pro-")
			rc := newReceiver(t, proContract(secret))
			rc.setAnswer(func(attempt int) (int, time.Duration) {
				if attempt == 0 && hold > 0 {
					return http.StatusOK, hold // cut by the timeout
				}
				return status, 0
			})
			return rc, d.endpoint(t, &endpoints.Endpoint{ID: id, Application: proID, URL: rc.URL(), Secrets: []string{secret},
				RetrySchedule: schedule, Timeout: endpoints.Duration(time.Second)})
		}
		rejecting, rejectingEP := give("rejects", http.StatusBadRequest, 0)
		failing, failingEP := give("fails", http.StatusInternalServerError, 0)
		slow, _ := give("slow-once", http.StatusOK, 3*time.Second)
		d.publish(t, event(proID, "incident.reported", 300))

		dead := d.deadLetters(t, rejectingEP, 1, 20*time.Second)
		if dead[0].Attempt != 1 || !strings.Contains(dead[0].Reason, "400") {
			t.Errorf("the 400 dead letter: %d attempts, %q; want 1 attempt, final", dead[0].Attempt, dead[0].Reason)
		}
		dead = d.deadLetters(t, failingEP, 1, 30*time.Second)
		if dead[0].Attempt != 6 || !strings.Contains(dead[0].Reason, "failed permanently") {
			t.Errorf("the 500 dead letter: %d attempts, %q; want 6 (the first and five retries)", dead[0].Attempt, dead[0].Reason)
		}
		slowPosts := slow.wait(t, 20*time.Second, "the timed-out POST retried", func(ps []post) bool { return len(ps) >= 2 && ps[1].status == http.StatusOK })
		if cut := slowPosts[0].cut; cut < 900*time.Millisecond || cut > 2500*time.Millisecond {
			t.Errorf("the first POST was given up after %s, want about the endpoint's 1 s", cut)
		}
		time.Sleep(500 * time.Millisecond) // room for a POST too many
		for _, c := range []struct {
			rc   *receiver
			want int
		}{{rejecting, 1}, {failing, 6}, {slow, 2}} {
			ps := c.rc.snapshot()
			if len(ps) != c.want {
				t.Errorf("%d POSTs to %s, want %d", len(ps), c.rc.URL(), c.want)
			}
			for _, p := range ps {
				if p.err != nil {
					t.Errorf("a retry failed the receiver's checks: %v", p.err)
				}
			}
		}
	})
}
