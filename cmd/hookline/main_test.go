package main

import (
	"strings"
	"testing"
)

// TestHelpExitsZero: help asked for, at the top or of a command, is not
// an error; a command line that cannot be read is (2).
func TestHelpExitsZero(t *testing.T) {
	for _, tc := range []struct {
		args string
		want int
	}{
		{"--help", 0}, {"-h", 0}, {"help", 0}, {"help topics", 0}, {"topics -h", 0}, {"registry help", 0},
		{"endpoints --help", 0}, {"doctor -h", 0},
		{"", 2}, {"nosuch", 2}, {"topics", 2}, {"registry", 2}, {"endpoints", 2},
	} {
		if got := run(strings.Fields(tc.args)); got != tc.want {
			t.Errorf("hookline %s: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
