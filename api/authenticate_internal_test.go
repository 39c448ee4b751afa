package api

import "testing"

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
