package applications

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// ErrBreaking marks a catalog change that would break subscribed
// receivers; errors wrapping it are *BreakingError.
var ErrBreaking = errors.New("breaking catalog change")

// BreakingError names the type whose change is refused and what to do.
type BreakingError struct {
	Field  string // eventTypes[i].schema, .version or eventTypes
	Type   string
	Reason string
}

func (e *BreakingError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes a BreakingError an ErrBreaking.
func (e *BreakingError) Unwrap() error { return ErrBreaking }

// CheckChange refuses a new version of an application that breaks the
// types endpoints subscribe to (subscribed says which): removing one,
// lowering its version, or changing its schema so that data valid before
// may fail now without raising the version. Types nobody subscribes to
// change freely. A new version of a type is how a producer announces an
// incompatible change, so receivers see it in the catalog.
func CheckChange(old, next *Application, subscribed func(typ string) bool) error {
	for _, ot := range old.EventTypes {
		if !subscribed(ot.Name) {
			continue
		}
		i := slices.IndexFunc(next.EventTypes, func(t EventType) bool { return t.Name == ot.Name })
		if i < 0 {
			return &BreakingError{Field: "eventTypes", Type: ot.Name,
				Reason: fmt.Sprintf("%s is subscribed to by endpoints; remove it from their eventTypes first", ot.Name)}
		}
		nt := next.EventTypes[i]
		switch {
		case nt.Version < ot.Version:
			return &BreakingError{Field: fmt.Sprintf("eventTypes[%d].version", i), Type: ot.Name,
				Reason: fmt.Sprintf("%s is at version %d; a version never goes back (got %d)", ot.Name, ot.Version, nt.Version)}
		case nt.Version == ot.Version && !Compatible(ot.Schema, nt.Schema):
			return &BreakingError{Field: fmt.Sprintf("eventTypes[%d].schema", i), Type: ot.Name,
				Reason: fmt.Sprintf("the new schema of %s may refuse data the old one accepted, and endpoints subscribe to it; publish it as version %d", ot.Name, ot.Version+1)}
		}
	}
	return nil
}

// annotations change what a schema says, not what it accepts.
var annotations = map[string]bool{"description": true, "title": true, "examples": true, "$comment": true, "default": true, "$id": true}

// Compatible reports whether every document the old schema accepts is
// accepted by the new one, as far as a structural comparison can tell:
// the schemas are equal but for annotations, properties added, and
// requirements dropped. Anything else counts as incompatible, so the
// answer errs towards asking for a new version.
func Compatible(oldRaw, newRaw json.RawMessage) bool {
	var o, n any
	if json.Unmarshal(oldRaw, &o) != nil || json.Unmarshal(newRaw, &n) != nil {
		return false
	}
	return compatible(o, n)
}

func compatible(o, n any) bool {
	om, ok1 := o.(map[string]any)
	nm, ok2 := n.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(o, n)
	}
	for k, ov := range om {
		if annotations[k] {
			continue
		}
		nv, ok := nm[k]
		switch k {
		case "required":
			// Dropping a requirement accepts more.
			if ok && !subset(nv, ov) {
				return false
			}
			continue
		case "properties":
			if !ok || !propertiesKept(ov, nv) {
				return false
			}
			continue
		}
		if !ok || !compatible(ov, nv) {
			return false
		}
	}
	for k := range nm {
		if _, ok := om[k]; !ok && !annotations[k] && k != "properties" {
			return false // a new keyword constrains
		}
	}
	return true
}

// propertiesKept: every old property is in the new schema, compatibly;
// new ones may be added.
func propertiesKept(o, n any) bool {
	om, ok1 := o.(map[string]any)
	nm, ok2 := n.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(o, n)
	}
	for k, ov := range om {
		nv, ok := nm[k]
		if !ok || !compatible(ov, nv) {
			return false
		}
	}
	return true
}

// subset: every name in the new list n is in the old list o.
func subset(n, o any) bool {
	nl, ok1 := n.([]any)
	ol, ok2 := o.([]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(n, o)
	}
	for _, v := range nl {
		if !slices.Contains(ol, v) {
			return false
		}
	}
	return true
}
