package config

import (
	"errors"
	"testing"
)

var (
	errOuter = errors.New("outer config")
	errInner = errors.New("inner config")
)

func TestFieldErrorNamesTheSettingAndItsPackage(t *testing.T) {
	err := Errorf(errInner, "MaxRetryAfter", "want at least 1s, got %s", "5ms")
	if err.Error() != "inner config: MaxRetryAfter: want at least 1s, got 5ms" || !errors.Is(err, errInner) {
		t.Fatalf("%v", err)
	}
	nested := In(errOuter, "Sender", err)
	var fe *FieldError
	if !errors.As(nested, &fe) || fe.Field != "Sender.MaxRetryAfter" || !errors.Is(nested, errOuter) {
		t.Fatalf("nested: %v (%+v)", nested, fe)
	}
	if nested.Error() != "outer config: Sender.MaxRetryAfter: want at least 1s, got 5ms" {
		t.Errorf("nested message %q", nested)
	}
	plain := In(errOuter, "Membership", errors.New("bad protocol"))
	if !errors.As(plain, &fe) || fe.Field != "Membership" || fe.Reason != "bad protocol" {
		t.Errorf("plain: %v", plain)
	}
	if In(errOuter, "Sender", nil) != nil {
		t.Error("In(nil) is not nil")
	}
}
