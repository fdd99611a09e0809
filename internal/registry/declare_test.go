package registry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// openLogged opens a Store whose Info lines the test reads.
func openLogged(t *testing.T, k testbackend.Kafka, topic string) (*Store, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	cfg := storeConfig(t, k, topic, keyK1)
	cfg.Logger = zap.New(core)
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, logs
}

// fileEndpoint is an endpoint as a file declares it.
func fileEndpoint(id, url, secret string) *endpoints.Endpoint {
	return &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: url, Secrets: []string{secret}, MaxItems: 1}
}

func apply(t *testing.T, s *Store, eps ...*endpoints.Endpoint) FilePlan {
	t.Helper()
	p, err := s.ApplyFile(context.Background(), "endpoints.json", eps)
	if err != nil {
		t.Fatalf("apply the file: %v", err)
	}
	return p
}

// lines renders a plan as its log or dry-run lines.
func lines(p FilePlan, dry bool) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Line(dry))
	}
	return out
}

// endOffset is how many records the registry topic holds.
func endOffset(t *testing.T, k testbackend.Kafka, topic string) int64 {
	t.Helper()
	ends, err := k.Admin(t).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, 0)
	return o.Offset
}

// TestFileIsDeclarative: a second load, by another process, makes the
// registry match the changed file: the new secret and URL are in force,
// the endpoint the file dropped is gone, the API's endpoint is as it was.
// Every change is logged by field name, never a secret; the plan shown
// beforehand is what the load then did, and wrote nothing itself.
func TestFileIsDeclarative(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		first, _ := openLogged(t, k, topic)
		viaAPI := mustCreate(t, first, endpoint("ep_api", "t-1"))
		p := apply(t, first,
			fileEndpoint("a", "https://a.example.com/hooks", "whsec_old-secret-of-a"),
			fileEndpoint("b", "https://b.example.com/hooks", "whsec_secret-of-b"))
		if got := lines(p, false); !slices.Equal(got, []string{"created endpoint a (tenant t-1)", "created endpoint b (tenant t-1)"}) {
			t.Fatalf("first load: %q", got)
		}

		second, logs := openLogged(t, k, topic) // the next start
		v2 := []*endpoints.Endpoint{fileEndpoint("a", "https://a2.example.com/hooks", "whsec_new-secret-of-a")}
		before := endOffset(t, k, topic)
		planned, err := second.PlanFile(v2)
		if err != nil {
			t.Fatal(err)
		}
		if after := endOffset(t, k, topic); after != before {
			t.Fatalf("PlanFile wrote %d records", after-before)
		}
		wantLines := []string{"deleted endpoint b (tenant t-1), no longer in the file", "updated endpoint a (tenant t-1): secrets, url"}
		if got := lines(planned, false); !slices.Equal(got, wantLines) {
			t.Fatalf("plan: %q, want %q", got, wantLines)
		}
		if got := lines(planned, true); got[0] != "would delete endpoint b (tenant t-1), no longer in the file" {
			t.Fatalf("dry-run line %q", got[0])
		}
		done := apply(t, second, v2...)
		if got := lines(done, false); !slices.Equal(got, wantLines) {
			t.Fatalf("second load did %q, planned %q", got, wantLines)
		}

		for _, s := range []*Store{second, first} {
			eventually(t, func() bool {
				a := s.Get("a")
				return a != nil && a.Secrets[0] == "whsec_new-secret-of-a" && len(a.Secrets) == 1 && a.URL == "https://a2.example.com/hooks" && s.Get("b") == nil
			}, "every store signs a with the file's new secret and has dropped b")
		}
		if e := second.Get("ep_api"); e == nil || e.URL != viaAPI.URL || e.Secrets[0] != viaAPI.Secrets[0] || !e.UpdatedAt.Equal(viaAPI.UpdatedAt) {
			t.Fatalf("the API's endpoint after the load: %v", e)
		}

		var msgs []string
		for _, e := range logs.All() {
			msgs = append(msgs, e.Message)
			for _, text := range append([]string{e.Message}, fieldStrings(e)...) {
				if strings.Contains(text, "secret-of-a") {
					t.Fatalf("a secret reached the log: %q", text)
				}
			}
		}
		for _, want := range append(wantLines, "endpoints file endpoints.json: 0 created, 1 updated, 0 taken over, 1 deleted, 0 unchanged") {
			if !slices.Contains(msgs, want) {
				t.Errorf("log lacks %q; it has %q", want, msgs)
			}
		}

		before = endOffset(t, k, topic)
		if again := apply(t, second, v2...); len(again.Changes) != 0 || again.Unchanged != 1 {
			t.Fatalf("loading the same file again: %+v", again)
		}
		if after := endOffset(t, k, topic); after != before {
			t.Fatalf("loading an unchanged file wrote %d records", after-before)
		}
	})
}

// fieldStrings are the string values of a log entry's fields.
func fieldStrings(e observer.LoggedEntry) []string {
	var out []string
	for _, v := range e.ContextMap() {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
		if ss, ok := v.([]any); ok {
			for _, x := range ss {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// TestFileKeepsOwningThroughOtherWrites: a 410's Disable and a rotation
// through the API do not make an endpoint the file's no more. The next
// load puts the file's values back, and a load without them deletes
// both, while the API's endpoint stays.
func TestFileKeepsOwningThroughOtherWrites(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		s, _ := openLogged(t, k, testbackend.UniqueName(t))
		mustCreate(t, s, endpoint("ep_api", "t-1"))
		a := fileEndpoint("a", "https://a.example.com/hooks", "whsec_a")
		b := fileEndpoint("b", "https://b.example.com/hooks", "whsec_b")
		apply(t, s, a, b)
		if err := s.Disable(ctx, "a", "endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rotate(ctx, "b", "whsec_rotated", time.Hour); err != nil {
			t.Fatal(err)
		}
		want := []string{"updated endpoint a (tenant t-1): disabled, disabledReason", "updated endpoint b (tenant t-1): rotatedUntil, secrets"}
		if got := lines(apply(t, s, a, b), false); !slices.Equal(got, want) {
			t.Fatalf("reload: %q, want %q", got, want)
		}
		if e := s.Get("a"); e.Disabled || e.DisabledReason != "" {
			t.Fatalf("a after the reload: %v", e)
		}
		if e := s.Get("b"); !slices.Equal(e.Secrets, []string{"whsec_b"}) || !e.RotatedUntil.IsZero() {
			t.Fatal("b does not sign with the file's secret alone after the reload")
		}
		if err := s.Disable(ctx, "a", "endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		want = []string{"deleted endpoint a (tenant t-1), no longer in the file", "deleted endpoint b (tenant t-1), no longer in the file"}
		if got := lines(apply(t, s), false); !slices.Equal(got, want) {
			t.Fatalf("empty file: %q, want %q", got, want)
		}
		if s.Get("a") != nil || s.Get("b") != nil || s.Get("ep_api") == nil {
			t.Fatalf("after the empty file: a %v, b %v, ep_api %v", s.Get("a"), s.Get("b"), s.Get("ep_api"))
		}
	})
}

// TestFileTakesOverAnIDItLists: an id the file lists that the registry
// holds without the file's mark (an API endpoint, or one loaded by the
// old bootstrap) becomes the file's: updated to match, deleted when the
// file drops it. A file that would move an id to another tenant is
// refused before anything is written.
func TestFileTakesOverAnIDItLists(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		s, _ := openLogged(t, k, topic)
		mustCreate(t, s, endpoint("legacy", "t-1"))
		mustCreate(t, s, endpoint("untouched", "t-1"))
		want := fileEndpoint("legacy", "https://legacy.example.com/v2", "whsec_secret-of-legacy")
		want.MaxItems = 0
		got := lines(apply(t, s, want), false)
		if !slices.Equal(got, []string{"took over endpoint legacy (tenant t-1), not yet managed by the file: url"}) {
			t.Fatalf("take-over: %q", got)
		}
		if got := lines(apply(t, s, want), false); len(got) != 0 {
			t.Fatalf("a second load after the take-over: %q", got)
		}

		before := endOffset(t, k, topic)
		moved := fileEndpoint("untouched", "https://x.example.com", "whsec_x")
		moved.TenantID = "t-2"
		_, err := s.ApplyFile(context.Background(), "endpoints.json", []*endpoints.Endpoint{moved})
		if err == nil || !strings.Contains(err.Error(), `"untouched"`) || !strings.Contains(err.Error(), "tenant") {
			t.Fatalf("moving an endpoint to another tenant: %v", err)
		}
		if after := endOffset(t, k, topic); after != before {
			t.Fatalf("a refused file wrote %d records", after-before)
		}
		named := fileEndpoint("new", "https://n.example.com", "whsec_n")
		named.Name = "crm"
		if _, err := s.Update(context.Background(), "untouched", func(e *endpoints.Endpoint) error { e.Name = "crm"; return nil }); err != nil {
			t.Fatal(err)
		}
		before = endOffset(t, k, topic)
		_, err = s.ApplyFile(context.Background(), "endpoints.json", []*endpoints.Endpoint{named})
		if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), "untouched") {
			t.Fatalf("a name an API endpoint holds: %v", err)
		}
		if after := endOffset(t, k, topic); after != before {
			t.Fatalf("a refused file wrote %d records", after-before)
		}

		if got := lines(apply(t, s), false); !slices.Equal(got, []string{"deleted endpoint legacy (tenant t-1), no longer in the file"}) {
			t.Fatalf("file without the taken-over endpoint: %q", got)
		}
		if s.Get("untouched") == nil {
			t.Fatal("an endpoint the file never listed was deleted")
		}
	})
}

// TestFileAppliedByProcessesAtOnce: processes starting together with the
// same file all succeed, and between them create each endpoint once.
func TestFileAppliedByProcessesAtOnce(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		topic := testbackend.UniqueName(t)
		var eps []*endpoints.Endpoint
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			eps = append(eps, fileEndpoint(id, "https://"+id+".example.com", "whsec_"+id))
		}
		stores := []*Store{openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)}
		plans := make([]FilePlan, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				var err error
				if plans[i], err = s.ApplyFile(context.Background(), "endpoints.json", eps); err != nil {
					t.Errorf("process %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		creates, others := 0, 0
		for _, p := range plans {
			creates += p.Count(ActionCreate)
			others += len(p.Changes) - p.Count(ActionCreate)
		}
		if creates != len(eps) || others != 0 {
			t.Fatalf("%d creates and %d other changes between the processes, want %d and 0: %+v", creates, others, len(eps), plans)
		}
		for _, s := range stores {
			eventually(t, func() bool { return len(table(s)) == len(eps) }, "every process holds the file's endpoints")
		}
	})
}
