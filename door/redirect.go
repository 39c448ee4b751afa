package door

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// maxRedirect bounds a redirect target.
const maxRedirect = 2048

// AllowedRedirect reports whether target is a safe place to send a client after login:
// a path on this server ("/x", never "//host" or "/\host"), or an absolute URL matching
// one of the allowed entries. An entry matches when scheme, host and port are equal
// (default ports made explicit) and the entry's path is a whole-segment prefix of the
// target's path, both compared after percent-decoding and resolving "." and "..": so
// "https://good.example/app" admits "/app" and "/app/x" but not "/application", "/appx",
// "/app/../evil" or "/app/%2e%2e/evil".
func AllowedRedirect(target string, allowed []string) bool {
	if target == "" || len(target) > maxRedirect || strings.ContainsAny(target, "\r\n\t\\\x00") {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
			return false
		}
		_, ok := cleanPath(u)
		return ok
	}
	tp, ok := cleanPath(u)
	if !ok {
		return false
	}
	for _, a := range allowed {
		au, err := url.Parse(strings.TrimSpace(a))
		if err != nil || au.Scheme == "" || au.Host == "" || au.User != nil {
			continue
		}
		if !strings.EqualFold(u.Scheme, au.Scheme) || !strings.EqualFold(u.Hostname(), au.Hostname()) ||
			port(u) != port(au) {
			continue
		}
		ap, ok := cleanPath(au)
		if !ok {
			continue
		}
		if ap == "/" || tp == ap || strings.HasPrefix(tp, strings.TrimSuffix(ap, "/")+"/") {
			return true
		}
	}
	return false
}

// cleanPath returns u's path percent-decoded and with "." and ".." resolved. A path
// whose decoding has a backslash or control character, or that climbs above the root,
// is refused.
func cleanPath(u *url.URL) (string, bool) {
	p := u.Path // url.Parse decoded it, %2e%2e included
	if strings.ContainsAny(p, "\\\x00\r\n") {
		return "", false
	}
	if p == "" {
		return "/", true
	}
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	// A ".." that would climb above the root is a sign of trickery, not a path.
	depth := 0
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c, true
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// Redirect returns target if AllowedRedirect admits it under the configured entries,
// else the configured success URL.
func (c *Core) Redirect(target string) string {
	if target != "" && AllowedRedirect(target, c.cfg.AllowedRedirects) {
		return target
	}
	return c.cfg.SuccessURL
}

// RedirectOrigins returns the origins (scheme://host[:port]) of the absolute allowed
// redirect entries and of the success URL, sorted: where a door may send a browser after
// a form post, which a page's CSP form-action must name (browsers apply it to the
// redirects that follow the post, not just to the post itself).
func (c *Core) RedirectOrigins() []string {
	seen := map[string]bool{}
	for _, raw := range append([]string{c.cfg.SuccessURL}, c.cfg.AllowedRedirects...) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
			continue
		}
		seen[strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host)] = true
	}
	out := make([]string, 0, len(seen))
	for o := range seen {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// RedirectAllowed reports whether target may be redirected to.
func (c *Core) RedirectAllowed(target string) bool {
	return AllowedRedirect(target, c.cfg.AllowedRedirects)
}
