package journeys

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		want       []string // lines the diff must have
		same       bool
	}{
		{"key order and spacing are not changes", `{"b":1,"a":{"y":2,"x":3}}`, `{ "a": {"x":3, "y":2}, "b": 1 }`, nil, true},
		{"a changed value", `{"a":1,"b":"<x>"}`, `{"a":2,"b":"<x>"}`, []string{"--- j@v1", "+++ j@v2", `-  "a": 1,`, `+  "a": 2,`, `   "b": "<x>"`}, false},
		{"numbers as written", `{"n":12345678901234567890}`, `{"n":12345678901234567891}`, []string{`-  "n": 12345678901234567890`, `+  "n": 12345678901234567891`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff("j@v1", "j@v2", []byte(tc.a), []byte(tc.b))
			if tc.same != (d == "") {
				t.Fatalf("diff = %q, want same %t", d, tc.same)
			}
			lines := strings.Split(d, "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("diff lacks line %q:\n%s", w, d)
				}
			}
		})
	}
}
