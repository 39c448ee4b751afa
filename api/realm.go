package api

import (
	"fmt"
	"strings"
)

// validRealmPart reports whether s can be one segment of a realm path: 1 to 64 ASCII
// letters, digits, '_', '.' and '-', starting with a letter or digit (the regular
// expression ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$, checked on every request without one).
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

// realmFromPath reads the realm from the path segments between "json" and the resource,
// as the ForgeRock SDK builds them: [] or [realms root] is "/", [realms root realms alpha]
// is "/alpha", and so on. A path that is not of that shape is an error.
func realmFromPath(segs []string) (string, error) {
	if len(segs) == 0 {
		return "/", nil
	}
	if len(segs)%2 != 0 {
		return "", fmt.Errorf("malformed realm path %q", strings.Join(segs, "/"))
	}
	var parts []string
	for i := 0; i < len(segs); i += 2 {
		if segs[i] != "realms" || !validRealmPart(segs[i+1]) {
			return "", fmt.Errorf("malformed realm path %q", strings.Join(segs, "/"))
		}
		if i == 0 {
			if segs[1] != "root" {
				// The SDK always prefixes root; accept a bare first realm too, as AM does
				// for "/json/realms/alpha/...".
				parts = append(parts, segs[1])
			}
			continue
		}
		parts = append(parts, segs[i+1])
	}
	return "/" + strings.Join(parts, "/"), nil
}

// normalizeRealmParam reads a realm given as a query parameter ("alpha", "/alpha",
// "root/alpha", "/").
func normalizeRealmParam(s string) (string, error) {
	s = strings.Trim(strings.TrimSpace(s), "/")
	if s == "" || s == "root" {
		return "/", nil
	}
	parts := strings.Split(s, "/")
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

// splitResource splits "/json/realms/root/realms/alpha/authenticate" into the realm
// segments and the resource path after them ("authenticate", "sessions",
// "push/sns/message").
func splitResource(path string) (realmSegs []string, resource string) {
	p := strings.TrimPrefix(path, "/json")
	p = strings.Trim(p, "/")
	if p == "" {
		return nil, ""
	}
	segs := strings.Split(p, "/")
	i := 0
	for i+1 < len(segs) && segs[i] == "realms" {
		i += 2
	}
	return segs[:i], strings.Join(segs[i:], "/")
}
