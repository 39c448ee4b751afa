package api

import (
	"fmt"
	"regexp"
	"strings"
)

var realmPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

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
		if segs[i] != "realms" || !realmPart.MatchString(segs[i+1]) {
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
		if !realmPart.MatchString(p) {
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
