package door

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

func TestNormalizeRealm(t *testing.T) {
	for in, want := range map[string]string{"": "/", "root": "/", "/": "/", " alpha ": "/alpha", "alpha": "/alpha", "/alpha/": "/alpha",
		"root/alpha": "/alpha", "a/b": "/a/b"} {
		if got, err := NormalizeRealm(in); err != nil || got != want {
			t.Errorf("NormalizeRealm(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"../x", "a b", "<x>", "a//b", "alpha/-x"} {
		if got, err := NormalizeRealm(bad); err == nil {
			t.Errorf("NormalizeRealm(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRealmFromPath(t *testing.T) {
	for _, tc := range []struct {
		path, want string
	}{
		{"", "/"},
		{"realms/root", "/"},
		{"realms/root/realms/alpha", "/alpha"},
		{"realms/alpha", "/alpha"},
		{"realms/root/realms/alpha/realms/beta", "/alpha/beta"},
		{"realms", ""},
		{"realms/root/realms", ""},
		{"realm/root", ""},
		{"realms/root/realms/a$b", ""},
	} {
		var segs []string
		if tc.path != "" {
			segs = strings.Split(tc.path, "/")
		}
		got, err := RealmFromPath(segs)
		if tc.want == "" {
			if err == nil {
				t.Errorf("RealmFromPath(%q) = %q, want an error", tc.path, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("RealmFromPath(%q) = %q %v, want %q", tc.path, got, err, tc.want)
		}
	}
}
