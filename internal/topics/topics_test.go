package topics

import "testing"

func TestNamesFollowThePrefix(t *testing.T) {
	if got, want := For(""), (Names{DefaultEvents, DefaultInvalid, DefaultAttempts, DefaultDead, DefaultRegistry, DefaultTierPrefix}); got != want {
		t.Errorf("For(\"\") = %+v, want the defaults %+v", got, want)
	}
	want := Names{"acme.events", "acme.invalid", "acme.attempts", "acme.dead", "acme.registry", "acme.retry."}
	if got := For("acme."); got != want {
		t.Errorf("For(acme.) = %+v, want %+v", got, want)
	}
	if DefaultEvents != "hookline.events" || DefaultTierPrefix != "hookline.retry." {
		t.Errorf("defaults %q, %q", DefaultEvents, DefaultTierPrefix)
	}
}
