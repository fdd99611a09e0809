package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
)

func TestGroupDefaultsTieTheRebalanceToTheSession(t *testing.T) {
	g := Group{}.WithDefaults()
	if g.SessionTimeout != DefaultSessionTimeout || g.RebalanceTimeout != DefaultSessionTimeout/2 || g.Protocol != ProtocolClassic {
		t.Fatalf("defaults: %+v", g)
	}
	short := Group{SessionTimeout: 6 * time.Second}
	if got := short.WithDefaults().RebalanceTimeout; got != 3*time.Second {
		t.Fatalf("rebalance timeout of a 6s session: %s", got)
	}
	if got := short.HeartbeatInterval(); got != 600*time.Millisecond {
		t.Fatalf("heartbeat of a 6s session: %s", got)
	}
	if got := (Group{}).HeartbeatInterval(); got != 3*time.Second {
		t.Fatalf("heartbeat of the default session: %s", got)
	}
	if got := short.RevokeTimeout(); got != 1500*time.Millisecond {
		t.Fatalf("revoke budget of a 3s rebalance: %s", got)
	}
	if got := (Group{}).RevokeTimeout(); got != 22500*time.Millisecond-7*time.Second {
		t.Fatalf("revoke budget of the default rebalance: %s", got)
	}
}

func TestGroupValidate(t *testing.T) {
	for _, tc := range []struct {
		g     Group
		field string
	}{
		{Group{SessionTimeout: 500 * time.Millisecond}, "SessionTimeout"},
		{Group{SessionTimeout: 6 * time.Second, RebalanceTimeout: 100 * time.Millisecond}, "RebalanceTimeout"},
		{Group{Protocol: "eager"}, "Protocol"},
	} {
		var fe *config.FieldError
		if err := tc.g.Validate(); !errors.As(err, &fe) || !errors.Is(err, ErrGroup) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want ErrGroup naming %s", tc.g, err, tc.field)
		}
	}
	for _, p := range []string{"", ProtocolClassic, ProtocolConsumer} {
		if err := (Group{Protocol: p}).Validate(); err != nil {
			t.Errorf("protocol %q: %v", p, err)
		}
	}
}

func TestGroupOpts(t *testing.T) {
	base := len(Group{}.Opts())
	if n := len(Group{InstanceID: "pod-0"}.Opts()); n != base+1 {
		t.Errorf("instance id adds %d options, want 1", n-base)
	}
	if n := len(Group{Protocol: ProtocolConsumer}.Opts()); n != base+1 {
		t.Errorf("consumer protocol adds %d options, want 1", n-base)
	}
}
