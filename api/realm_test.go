package api

import (
	"regexp"
	"strings"
	"testing"
)

// validRealmPart is exactly the regular expression it replaced.
func FuzzValidRealmPart(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	for _, s := range []string{"", "root", "alpha", "a.b-c_d", "-a", "_a", ".a", "a$b", "é", "a\n", strings.Repeat("a", 64), strings.Repeat("a", 65), "A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validRealmPart(s), re.MatchString(s); got != want {
			t.Fatalf("validRealmPart(%q) = %v, the regular expression says %v", s, got, want)
		}
	})
}
