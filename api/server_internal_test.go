package api

import (
	"strconv"
	"testing"
)

// TestStatusLabel checks that every status's metrics label is its number, whether it
// is one of the constants or formatted.
func TestStatusLabel(t *testing.T) {
	for code := 100; code < 600; code++ {
		if got, want := statusLabel(code), strconv.Itoa(code); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", code, got, want)
		}
	}
}
