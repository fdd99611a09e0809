package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
)

// TestRetryNowAndReplayThroughTheAPI runs the whole stack (dev) with a
// short schedule: an event to a failing endpoint ends as a dead letter in
// the API's delivery log; Retry now gets it delivered once; a bulk replay
// of the endpoint afterwards sends it no second 2xx.
func TestRetryNowAndReplayThroughTheAPI(t *testing.T) {
	const secret = "whsec_cmV0cnktbm93LXRlc3Qtc2VjcmV0LTAxMjM0NTY3"
	recv := testbackend.NewReceiver(t, "X-Hookline", secret)
	recv.SetStatus(func(int) int { return 500 })
	ctx := context.Background()
	r := runDevStack(t, "--retry-schedule", "200ms,400ms")
	cl := newAPIClient(r.API, r.Key)
	var ep struct{ ID string }
	if err := cl.do(ctx, "POST", "/v1/endpoints", map[string]any{"name": "failing", "url": recv.URL() + "/hook",
		"eventTypes": []string{"task.*"}, "secret": secret, "maxItems": 1, "verify": false}, &ep); err != nil {
		t.Fatal(err)
	}
	if err := cl.do(ctx, "POST", "/v1/events", map[string]any{"type": "task.created",
		"data": map[string]any{"task": map[string]any{"id": "t1", "title": "Ducts"}}}, nil); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Status string
		Attempts   int
	}
	status := func() row {
		var page struct{ Data []row }
		if err := cl.do(ctx, "GET", "/v1/endpoints/"+ep.ID+"/deliveries", nil, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Data) == 0 {
			return row{}
		}
		return page.Data[0]
	}
	wait := func(want string) row {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if got := status(); got.Status == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery not %s within 20s: %+v", want, status())
			}
		}
	}
	dead := wait("dead")
	if dead.Attempts != 3 {
		t.Fatalf("dead after %d attempts, want 3 (first try and two tiers)", dead.Attempts)
	}
	recv.SetStatus(nil) // the receiver recovers
	if err := cl.do(ctx, "POST", "/v1/deliveries/"+dead.ID+"/retry", nil, nil); err != nil {
		t.Fatal(err)
	}
	delivered := wait("delivered")
	var job struct{ ID, State string }
	if err := cl.do(ctx, "POST", "/v1/endpoints/"+ep.ID+"/replay", map[string]any{"since": time.Now().Add(-time.Hour)}, &job); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); job.State != "done"; time.Sleep(100 * time.Millisecond) {
		if err := cl.do(ctx, "GET", "/v1/replays/"+job.ID, nil, &job); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay job %+v", job)
		}
	}
	time.Sleep(time.Second) // let a replayed copy reach the retrier
	posts, _ := recv.Snapshot()
	ok := 0
	for _, p := range posts {
		if p.Status/100 == 2 && p.Header.Get("X-Hookline-Delivery") == dead.ID {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("delivery %s got %d 2xx answers, want 1", dead.ID, ok)
	}
	if err := newAPIClient(r.API, "hlk_nope").do(ctx, "POST", "/v1/deliveries/"+dead.ID+"/retry", nil, nil); err == nil {
		t.Fatal("Retry now with a wrong key was accepted")
	} else if ae, isAE := err.(*apiError); !isAE || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	t.Logf("dead after %d attempts; Retry now delivered it (%d attempts); replay job %s %s; 2xx answers for it: %d; posts %d",
		dead.Attempts, delivered.Attempts, job.ID, job.State, ok, len(posts))
}
