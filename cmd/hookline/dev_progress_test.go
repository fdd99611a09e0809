package main

import (
	"testing"

	"github.com/hookline/hookline/internal/demo"
)

func TestProgressLineShowsEachApplication(t *testing.T) {
	apps := []appProgress{
		{ID: demo.MomentumStudioID, Stats: demo.Stats{Events: 1234, Verified: 56}},
		{ID: demo.MomentumproID, Stats: demo.Stats{Events: 345, Verified: 345}},
	}
	want := "produced 1,579 · momentum-studio: 1,234 events → 56 POSTs, 0 bad signatures | momentumpro: 345 events → 345 POSTs, 0 bad signatures · retrying 3 · dead 0"
	if got := progressLine(1579, apps, 3, 0); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
	// What goes wrong shows beside its application only.
	apps[1].Stats.Rejected, apps[1].Stats.Stale, apps[0].Stats.Foreign = 2, 1, 1000
	want = "produced 1,579 · momentum-studio: 1,234 events → 56 POSTs, 0 bad signatures, 1,000 foreign events | momentumpro: 345 events → 345 POSTs, 2 bad signatures, 1 stale timestamps · retrying 3 · dead 1"
	if got := progressLine(1579, apps, 3, 1); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
}

func TestGrouped(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234", 100000: "100,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}
