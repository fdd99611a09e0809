// Package config is how hookline's packages report a Config setting out
// of its bounds, all in one style: a *FieldError that names the setting
// as its Config spells it and wraps the package's own ErrConfig. A caller
// tells the package with errors.Is(err, dispatcher.ErrConfig) and finds
// the setting with errors.As; a command uses the field to name its own
// flag, so every bound is written once, in the package that relies on it,
// and holds for library callers and the command line alike.
package config

import "fmt"

// FieldError is one setting out of its bounds, or missing.
type FieldError struct {
	// Err is the package's sentinel, e.g. dispatcher.ErrConfig.
	Err error
	// Field is the setting as its Config spells it: "Concurrency", or
	// "Sender.MaxRetryAfter" for a setting of a config held in a field.
	Field string
	// Reason says what was wanted and what was given ("want 1-64, got
	// 65"). It may name other fields of the same Config, spelled as Field
	// is, so a command can put its flags' names in their place.
	Reason string
}

func (e *FieldError) Error() string { return e.Err.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, Err) hold.
func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for field of the package whose sentinel
// is pkg.
func Errorf(pkg error, field, format string, a ...any) error {
	return &FieldError{Err: pkg, Field: field, Reason: fmt.Sprintf(format, a...)}
}

// In re-reports err, a nested config's FieldError, as a setting of the
// config holding it in field: "MaxRetryAfter" of the sender becomes the
// dispatcher's "Sender.MaxRetryAfter". Any other non-nil error becomes
// the field's reason.
func In(pkg error, field string, err error) error {
	if err == nil {
		return nil
	}
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Err: pkg, Field: field + "." + fe.Field, Reason: fe.Reason}
	}
	return &FieldError{Err: pkg, Field: field, Reason: err.Error()}
}
