package api

import (
	"bytes"
	"testing"
)

func TestIsJSON(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json; charset=utf-8", true},
		{"application/problem+json", true},
		{"application/json;", true}, // mime.ParseMediaType allows the empty parameter list
		{"application/jsonx", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isJSON(tt.ct); got != tt.want {
			t.Errorf("isJSON(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

func TestIDToken(t *testing.T) {
	for n, want := range map[int]string{1: "IDToken1", 9: "IDToken9", 10: "IDToken10", 12: "IDToken12", 0: "IDToken0"} {
		if got := idToken(n); got != want {
			t.Errorf("idToken(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReadAllUsesTheRoomItIsGiven: a body read into a buffer with room for it reads
// into that buffer, with no allocation, and one without room is read whole all the same.
func TestReadAllUsesTheRoomItIsGiven(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1200)
	r := bytes.NewReader(body)
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(body)
		got, err := readAll(r, buf, int64(len(body)), 1<<20)
		if err != nil || !bytes.Equal(got, body) || &got[:1][0] != &buf[:1][0] {
			t.Fatalf("readAll = %d bytes, %v; want the body, in buf", len(got), err)
		}
	})
	if allocs != 0 {
		t.Errorf("readAll into a buffer with room: %v allocations, want 0", allocs)
	}
	for _, small := range [][]byte{nil, make([]byte, 0, 16)} {
		r.Reset(body)
		if got, err := readAll(r, small, -1, 1<<20); err != nil || !bytes.Equal(got, body) {
			t.Errorf("readAll into cap %d, length unknown = %d bytes, %v; want the body", cap(small), len(got), err)
		}
	}
}
