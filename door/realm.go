package door

import (
	"fmt"
	"strings"
)

// validRealmPart reports whether s can be one segment of a realm path: 1 to 64 ASCII
// letters, digits, '_', '.' and '-', starting with a letter or digit.
func validRealmPart(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// NormalizeRealm reads a realm as a door receives it ("alpha", "/alpha", "root/alpha",
// "root", "/", "") and returns its one normal form ("/alpha", "/"). Every door and the
// configuration read realms through it.
func NormalizeRealm(s string) (string, error) {
	t := strings.Trim(strings.TrimSpace(s), "/")
	if t == "" || t == "root" {
		return "/", nil
	}
	parts := strings.Split(t, "/")
	if parts[0] == "root" {
		parts = parts[1:]
	}
	for _, p := range parts {
		if !validRealmPart(p) {
			return "", fmt.Errorf("malformed realm %q", s)
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}

// RealmFromPath reads the realm from AM-style path segments: [] or [realms root] is "/",
// [realms root realms alpha] is "/alpha", and a bare first realm ([realms alpha]) is
// "/alpha" as AM accepts it. Any other shape is an error.
func RealmFromPath(segs []string) (string, error) {
	if len(segs) == 0 {
		return "/", nil
	}
	if len(segs)%2 != 0 {
		return "", fmt.Errorf("malformed realm path %q", strings.Join(segs, "/"))
	}
	parts := make([]string, 0, len(segs)/2)
	for i := 0; i < len(segs); i += 2 {
		if segs[i] != "realms" || !validRealmPart(segs[i+1]) {
			return "", fmt.Errorf("malformed realm path %q", strings.Join(segs, "/"))
		}
		if i == 0 && segs[1] == "root" {
			continue
		}
		parts = append(parts, segs[i+1])
	}
	return "/" + strings.Join(parts, "/"), nil
}
