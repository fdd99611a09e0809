package retry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAndTopics(t *testing.T) {
	var p Policy
	if got := strings.Join(p.Topics(), ","); got != "hookline.retry.1m0s,hookline.retry.5m0s,hookline.retry.30m0s,hookline.retry.2h0m0s,hookline.retry.12h0m0s" {
		t.Fatalf("default topics %s", got)
	}
	if i, ok := p.Tier("hookline.retry.30m0s"); !ok || i != 2 {
		t.Fatalf("Tier(30m) = %d, %v", i, ok)
	}
	if _, ok := p.Tier("hookline.dead"); ok {
		t.Fatal("dead letters are not a tier")
	}
	if p.Lane() != "hookline.retry.now" {
		t.Fatalf("lane %s", p.Lane())
	}
	if _, ok := p.Tier(p.Lane()); ok {
		t.Fatal("the Retry-now lane is not a tier")
	}
	if got, want := p.DoneTTL(), 14*time.Hour+36*time.Minute+7*24*time.Hour; got != want {
		t.Fatalf("DoneTTL %s, want %s", got, want)
	}
	d := DefaultDelays()
	d[0] = time.Hour
	if DefaultDelays()[0] != time.Minute {
		t.Fatal("the default schedule is shared mutable state")
	}
}

func TestParseDelays(t *testing.T) {
	got, err := ParseDelays("1m, 5m,30m")
	if err != nil || len(got) != 3 || got[2] != 30*time.Minute {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "1m,1m", "5m,1m", "-1m", "soon"} {
		if _, err := ParseDelays(bad); !errors.Is(err, ErrSchedule) {
			t.Errorf("%q: %v, want ErrSchedule", bad, err)
		}
	}
	for _, bad := range [][]time.Duration{nil, {0}, {time.Minute, -time.Second}, {time.Hour, time.Minute}} {
		if err := CheckDelays(bad); !errors.Is(err, ErrSchedule) {
			t.Errorf("CheckDelays(%v): %v, want ErrSchedule", bad, err)
		}
	}
	if got := strings.Join(strings.Fields(fmt.Sprint(DefaultDelays())), ","); got != "[1m0s,5m0s,30m0s,2h0m0s,12h0m0s]" {
		t.Errorf("DefaultSchedule %q reads as %s", DefaultSchedule, got)
	}
}

func TestNextFollowsTheSchedule(t *testing.T) {
	p := Policy{}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := p.Next(Failure{Tier: -1, Attempts: 1, FirstAttempt: now}, now)
	if s.Dead || s.Tier != 0 || s.Topic != "hookline.retry.1m0s" || !s.Due.Equal(now.Add(time.Minute)) {
		t.Fatalf("after the first attempt: %+v", s)
	}
	s = p.Next(Failure{Tier: 3, Attempts: 5, FirstAttempt: now}, now)
	if s.Tier != 4 || s.Topic != "hookline.retry.12h0m0s" || !s.Due.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("after tier 3: %+v", s)
	}
	s = p.Next(Failure{Tier: 4, Attempts: 6, FirstAttempt: now, Reason: "HTTP 503"}, now)
	if !s.Dead || !strings.Contains(s.Reason, "after 6 attempts: HTTP 503") {
		t.Fatalf("after the last tier: %+v", s)
	}
}

// TestRetryAfterPlacesByWait: a Retry-After longer than the next delay
// pushes the due time, and the record goes to the tier of the longest
// delay within that wait, never past the chain position.
func TestRetryAfterPlacesByWait(t *testing.T) {
	p := Policy{}
	now := time.Now()
	s := p.Next(Failure{Tier: -1, Attempts: 1, FirstAttempt: now, RetryAfter: 40 * time.Minute}, now)
	if s.Tier != 0 || s.Topic != "hookline.retry.1m0s" || !s.Due.Equal(now.Add(40*time.Minute)) {
		t.Fatalf("Retry-After 40m after the first attempt: %+v", s)
	}
	s = p.Next(Failure{Tier: 1, Attempts: 3, FirstAttempt: now, RetryAfter: 3 * time.Hour}, now)
	if s.Tier != 2 || s.Topic != "hookline.retry.30m0s" || !s.Due.Equal(now.Add(3*time.Hour)) {
		t.Fatalf("Retry-After 3h at tier 1: %+v", s)
	}
	if got := p.Place(90*time.Minute, 4); got != 2 {
		t.Fatalf("Place(90m) = %d, want the 30m tier", got)
	}
	if got := p.Place(10*time.Second, 4); got != 0 {
		t.Fatalf("Place(10s) = %d, want tier 0", got)
	}
}

// TestMaxAgeEndsTheChainAtTheDeadline: a maxAge of four hours with the
// default schedule. Attempts at 0, 1m, 6m, 36m and 2h36m; the next would be
// 12h later, so it is made at 4h exactly, and a failure then is dead: not
// at 14h36m.
func TestMaxAgeEndsTheChainAtTheDeadline(t *testing.T) {
	p := Policy{}
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	deadline := first.Add(4 * time.Hour)
	now, tier, attempts := first, -1, 1
	var times []time.Duration
	for {
		s := p.Next(Failure{Tier: tier, Attempts: attempts, FirstAttempt: first, MaxAge: 4 * time.Hour, Reason: "HTTP 500"}, now)
		if s.Dead {
			if !now.Equal(deadline) || !strings.Contains(s.Reason, "max age 4h0m0s") {
				t.Fatalf("dead at %s (%s), want at the 4h deadline", now.Sub(first), s.Reason)
			}
			break
		}
		if s.Due.After(deadline) {
			t.Fatalf("attempt due %s after the first, past the 4h deadline", s.Due.Sub(first))
		}
		now, tier = s.Due, s.Tier
		attempts++
		times = append(times, now.Sub(first))
	}
	want := []time.Duration{time.Minute, 6 * time.Minute, 36 * time.Minute, 2*time.Hour + 36*time.Minute, 4 * time.Hour}
	if len(times) != len(want) {
		t.Fatalf("attempts at %v, want %v", times, want)
	}
	for i := range want {
		if times[i] != want[i] {
			t.Fatalf("attempts at %v, want %v", times, want)
		}
	}
}
