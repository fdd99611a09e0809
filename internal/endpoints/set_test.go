package endpoints

import (
	"context"
	"testing"
)

// TestDisableSwapsSnapshot: a disable shows in every later lookup, while a
// slice taken before it (a batch in progress) keeps the endpoint as it was
// and other tenants are untouched.
func TestDisableSwapsSnapshot(t *testing.T) {
	mk := func(id, tenant string) *Endpoint {
		return &Endpoint{ID: id, TenantID: tenant, URL: "https://example.com/" + id, Secrets: []string{"s"}}
	}
	s, err := NewSet(mk("a1", "ta"), mk("a2", "ta"), mk("b1", "tb"))
	if err != nil {
		t.Fatal(err)
	}
	before := s.ForTenant("ta")
	other := s.ForTenant("tb")
	if err := s.Disable(context.Background(), "a2", "410 Gone"); err != nil {
		t.Fatal(err)
	}
	if before[1].Disabled {
		t.Error("the slice held before the disable changed under its reader")
	}
	after := s.ForTenant("ta")
	if len(after) != 2 || after[0].Disabled || !after[1].Disabled || after[1].ID != "a2" {
		t.Errorf("after disable: %+v %+v", after[0], after[1])
	}
	if g := s.Get("a2"); g == nil || !g.Disabled {
		t.Errorf("Get(a2) = %+v, want disabled", g)
	}
	if tb := s.ForTenant("tb"); len(tb) != 1 || tb[0] != other[0] {
		t.Error("another tenant's endpoints changed")
	}
	if n := len(s.All()); n != 3 {
		t.Errorf("All() has %d endpoints, want 3", n)
	}
	if err := s.Disable(context.Background(), "nope", ""); err == nil {
		t.Error("disabling an unknown id succeeded")
	}
}
