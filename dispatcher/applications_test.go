package dispatcher_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dialectSink records POSTs and checks each against one dialect: its
// signature header and format, and its User-Agent.
type dialectSink struct {
	srv              *httptest.Server
	sigHeader, agent string
	hexOnly          bool
	secret           []byte
	mu               sync.Mutex
	bodies           [][]byte
	bad              int
}

func newDialectSink(t *testing.T, prefix, agent string, hexOnly bool) *dialectSink {
	s := &dialectSink{sigHeader: prefix + "-Signature", agent: agent, hexOnly: hexOnly, secret: []byte(secret)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, s.secret)
		m.Write(body)
		want := hex.EncodeToString(m.Sum(nil))
		if !s.hexOnly {
			want = "sha256=" + want
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get(s.sigHeader)), []byte(want)) || r.Header.Get("User-Agent") != s.agent {
			s.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.bodies = append(s.bodies, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *dialectSink) got() ([][]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), s.bad
}

// Two applications in one deployment: each endpoint gets only its own
// application's events, in its application's dialect, and an event of a
// type its application's catalog lacks goes to the invalid topic.
func TestApplicationsDeliverInTheirOwnDialect(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		kr, err := registry.ParseKeyring(base64.StdEncoding.EncodeToString(key))
		if err != nil {
			t.Fatal(err)
		}
		st, err := registry.Open(context.Background(), registry.Config{Brokers: b.Brokers, Topic: testbackend.UniqueName(t) + ".registry", Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		people := &applications.Application{ID: "people", Name: "People", Dialect: endpoints.Dialect{
			HeaderPrefix: "X-People", UserAgent: "People/2", SignatureFormat: endpoints.SignatureHex, MaxItems: 1,
			Payload: &payload.Spec{Shape: payload.ShapeLegacy}},
			EventTypes: []applications.EventType{{Name: "employee.created", Version: 1,
				Schema: []byte(`{"type":"object","required":["employee"],"properties":{"employee":{"type":"object","required":["id"]}}}`)}}}
		studio := &applications.Application{ID: "studio", Name: "Studio", Dialect: endpoints.Dialect{
			HeaderPrefix: "X-Momentum", UserAgent: "Momentum-Webhook/1.0", MaxItems: 100, MaxWait: endpoints.Duration(300 * time.Millisecond)},
			EventTypes: []applications.EventType{{Name: "task.created", Version: 1,
				Schema: []byte(`{"type":"object","required":["task"],"properties":{"task":{"type":"object","required":["id"]}}}`)}}}
		for _, a := range []*applications.Application{people, studio} {
			if _, _, err := st.PutApplication(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		}
		hr := newDialectSink(t, "X-People", "People/2", true)
		tasks := newDialectSink(t, "X-Momentum", "Momentum-Webhook/1.0", false)
		for _, e := range []*endpoints.Endpoint{
			{ID: "hr", TenantID: "t-1", URL: hr.srv.URL + "/hr", Secrets: []string{secret}, Application: "people"},
			{ID: "tasks", TenantID: "t-1", URL: tasks.srv.URL + "/tasks", Secrets: []string{secret}, Application: "studio"},
		} {
			if _, err := st.Create(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		f := newFixture(t, b, nil, func(c *dispatcher.Config) { c.Endpoints = st; c.Applications = st })
		prod, err := producer.New(producer.Config{Brokers: b.Brokers, Topic: f.topics.Events, RandomEventIDs: true, Applications: st})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = prod.Close(context.Background()) })
		const n = 6
		for i := range n {
			id := string(rune('a' + i))
			for _, ev := range []producer.Event{
				{Type: "employee.created", TenantID: "t-1", Application: "people", Data: map[string]any{"employee": map[string]any{"id": id}}},
				{Type: "task.created", TenantID: "t-1", Application: "studio", Data: map[string]any{"task": map[string]any{"id": id}}},
			} {
				if _, err := prod.Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A type of the default catalog, named as people's: people lacks it.
		foreign := []byte(`{"type":"task.created","eventId":"e-foreign","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","application":"people","data":{"task":{"id":"z"}}}`)
		if err := b.Client(t).ProduceSync(t.Context(), kgoRecord(f.topics.Events, foreign)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		inv := f.read(t, f.topics.Invalid, 1)
		if !strings.Contains(string(inv[0].Value), "e-foreign") || !strings.Contains(reasonOf(inv[0].Headers), "application people") {
			t.Fatalf("invalid record %s, reason %q", inv[0].Value, reasonOf(inv[0].Headers))
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			hb, _ := hr.got()
			tb, _ := tasks.got()
			items := 0
			for _, body := range tb {
				items += len(events(t, body))
			}
			if len(hb) == n && items == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("people got %d POSTs, studio %d events; want %d each", len(hb), items, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		hb, hbad := hr.got()
		tb, tbad := tasks.got()
		if hbad != 0 || tbad != 0 {
			t.Fatalf("bad signatures or agents: people %d, studio %d", hbad, tbad)
		}
		for _, body := range hb {
			var legacy struct {
				Event string         `json:"event"`
				Data  map[string]any `json:"data"`
			}
			if err := json.Unmarshal(body, &legacy); err != nil || legacy.Event != "employee.created" || legacy.Data["id"] == nil {
				t.Fatalf("people body is not one legacy event of its own: %s", body)
			}
		}
		for _, body := range tb {
			if !strings.HasPrefix(string(body), "[") || strings.Contains(string(body), "employee") {
				t.Fatalf("studio body is not a batch of its own events: %s", body)
			}
		}
		t.Logf("people: %d POSTs of one event; studio: %d POSTs for %d events; cross-application 0; invalid 1", len(hb), len(tb), n)
	})
}

func reasonOf(hs []kgo.RecordHeader) string {
	for _, h := range hs {
		if h.Key == "hl-invalid-reason" {
			return string(h.Value)
		}
	}
	return ""
}
