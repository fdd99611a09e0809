// Package jsoncompare measures the envelope scanner against maintained JSON
// libraries on the dispatcher benchmark's records, and shows which of the
// scanner's rules each library leaves to its caller. It is a module of its
// own so that hookline's go.mod names none of them:
//
//	cd internal/envelope/jsoncompare && go test -bench . -benchmem .
package jsoncompare
