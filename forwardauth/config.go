package forwardauth

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/nodes"
)

// DefaultPath is where the endpoint is served unless Config.Path says otherwise.
const DefaultPath = "/auth/forward"

// reservedPaths are served by other doors; the endpoint may not shadow them.
var reservedPaths = []string{"/json", "/oauth2", "/login", "/account", "/admin", "/static", "/health", "/metrics"}

// DefaultGroupsAttribute is the user attribute whose values become the groups header.
const DefaultGroupsAttribute = "groups"

// Config is the config file's forward_auth section. Its presence turns the door on.
//
//	forward_auth:
//	  realm: /
//	  rules:                       # first match wins; no match: any valid session
//	    - {path: /public, public: true}
//	    - {host: app.example.com, path: /admin, factors: [push]}
//	    - {path: /, level: 10}
type Config struct {
	// Path is the endpoint's path (default /auth/forward).
	Path string `yaml:"path"`
	// Realm is the realm whose sessions count (default "/").
	Realm string `yaml:"realm"`
	// LoginURL is the browser door's login page as the browser reaches it (default
	// "/login": the proxy routes Arbor's pages on the application's own host, so the
	// session cookie reaches the application). An absolute URL sends the browser to
	// another host; the original URL is then passed as goto only if allowed_redirects
	// admits it.
	LoginURL string `yaml:"login_url"`
	// GroupsAttribute is the user attribute sent as X-Arbor-Groups (default "groups").
	GroupsAttribute string `yaml:"groups_attribute"`
	// Rules say what each route needs; the first rule matching the original request's
	// host and path wins. A request no rule matches needs a valid session.
	Rules []Rule `yaml:"rules"`
}

// Rule is what requests to one route need.
type Rule struct {
	// Host is the host the rule applies to ("app.example.com", "*.example.com" for any
	// subdomain, "app.example.com:8443" for one port); empty matches every host.
	Host string `yaml:"host"`
	// Path is a whole-segment path prefix: "/admin" matches /admin and /admin/x, not
	// /administrator (default "/": every path).
	Path string `yaml:"path"`
	// Public lets every request through, with no session and no identity headers.
	Public bool `yaml:"public"`
	// Level is the least authentication level of the session: 10 one factor, 20 two
	// independent factors.
	Level int `yaml:"level"`
	// Factors must all have been verified by the session's login (pwd, push, otp,
	// recovery_code): [push] for a path that needs push.
	Factors []string `yaml:"factors"`
	// Journey is what a browser goes through when its session falls short of the rule,
	// or when it has none (default: door.Core.RequirementJourney's choice; with no
	// session and a rule asking no more than level 10, the realm's default journey).
	Journey string `yaml:"journey"`
}

// knownFactors are the factors a rule may ask for: the ones nodes record.
var knownFactors = []string{nodes.FactorPassword, nodes.FactorPush, nodes.FactorOTP, nodes.FactorRecoveryCode}

// journeyName is what a journey name may look like (the browser door's rule).
var journeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// hostPattern is a host name with an optional port and an optional leading "*." label.
var hostPattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)

// normalize fills in defaults and returns every problem of the section at once.
func (c *Config) normalize() error {
	var errs []error
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if !strings.HasPrefix(c.Path, "/") || strings.HasPrefix(c.Path, "//") || strings.ContainsAny(c.Path, "?#\\ ") {
		errs = append(errs, fmt.Errorf("path %q is not an absolute path (/auth/forward)", c.Path))
	}
	for _, p := range reservedPaths {
		if c.Path == p || strings.HasPrefix(c.Path, p+"/") || c.Path == "/" {
			errs = append(errs, fmt.Errorf("path %q is taken by another door (%s)", c.Path, strings.Join(reservedPaths, ", ")))
			break
		}
	}
	r, err := door.NormalizeRealm(c.Realm)
	if err != nil {
		errs = append(errs, fmt.Errorf("realm: %w", err))
	}
	c.Realm = r
	if c.LoginURL == "" {
		c.LoginURL = "/login"
	}
	if u, err := url.Parse(c.LoginURL); err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		(u.Scheme == "" && (u.Host != "" || !strings.HasPrefix(c.LoginURL, "/") || strings.HasPrefix(c.LoginURL, "//"))) ||
		(u.Scheme != "" && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "")) {
		errs = append(errs, fmt.Errorf("login_url %q is neither a path (/login) nor an http(s) URL without query", c.LoginURL))
	}
	if c.GroupsAttribute == "" {
		c.GroupsAttribute = DefaultGroupsAttribute
	}
	for i := range c.Rules {
		if err := c.Rules[i].normalize(); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Rule) normalize() error {
	var errs []error
	r.Host = strings.ToLower(strings.TrimSpace(r.Host))
	if r.Host != "" && !hostPattern.MatchString(r.Host) {
		errs = append(errs, fmt.Errorf("host %q is not a host name (app.example.com, *.example.com)", r.Host))
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if p, ok := cleanRulePath(r.Path); ok {
		r.Path = p
	} else {
		errs = append(errs, fmt.Errorf("path %q is not a clean absolute path (/admin)", r.Path))
	}
	if r.Level < 0 || r.Level > door.LevelMultiFactor {
		errs = append(errs, fmt.Errorf("level %d is not between 0 and %d", r.Level, door.LevelMultiFactor))
	}
	for _, f := range r.Factors {
		if !slices.Contains(knownFactors, f) {
			errs = append(errs, fmt.Errorf("factor %q is not one of %s", f, strings.Join(knownFactors, ", ")))
		}
	}
	if r.Public && (r.Level > 0 || len(r.Factors) > 0 || r.Journey != "") {
		errs = append(errs, errors.New("a public rule cannot ask for a level, factors or a journey"))
	}
	if r.Journey != "" && !journeyName.MatchString(r.Journey) {
		errs = append(errs, fmt.Errorf("journey %q is not a journey name", r.Journey))
	}
	return errors.Join(errs...)
}

// cleanRulePath checks a rule's path and drops a trailing slash: "/admin/" is "/admin".
func cleanRulePath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#\\%") || path.Clean(p) != strings.TrimSuffix(p, "/") && p != "/" {
		return "", false
	}
	return path.Clean(p), true
}

// matches reports whether the rule applies to host (lower case, with the port if the
// request had one) and p (a cleaned path).
func (r *Rule) matches(host, p string) bool {
	if r.Host != "" && !hostMatches(r.Host, host) {
		return false
	}
	return r.Path == "/" || p == r.Path || strings.HasPrefix(p, r.Path+"/")
}

func hostMatches(pattern, host string) bool {
	name, port := splitHostPort(host)
	pname, pport := splitHostPort(pattern)
	if pport != "" && pport != port {
		return false
	}
	if suffix, ok := strings.CutPrefix(pname, "*"); ok {
		return strings.HasSuffix(name, suffix) && len(name) > len(suffix)
	}
	return name == pname
}

func splitHostPort(h string) (name, port string) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// need is what one request needs, from the rules its interpretations matched.
type need struct {
	public bool
	req    door.Requirement
}

// needOf returns what a request to host and the candidate paths needs. A request whose
// path reads differently decoded and raw (an encoded slash or dot) may reach a route
// other than the one the decoded path names, so every reading's rule applies: it is
// public only if all are, and needs the highest level and every factor any asks for.
func (c *Config) needOf(host string, paths []string) need {
	out := need{public: true}
	for _, p := range paths {
		r := c.match(host, p)
		if r == nil {
			out.public = false
			continue
		}
		if !r.Public {
			out.public = false
		}
		if r.Level > out.req.Level {
			out.req.Level = r.Level
		}
		for _, f := range r.Factors {
			if !slices.Contains(out.req.Factors, f) {
				out.req.Factors = append(out.req.Factors, f)
			}
		}
		if out.req.Journey == "" {
			out.req.Journey = r.Journey
		}
	}
	return out
}

func (c *Config) match(host, p string) *Rule {
	for i := range c.Rules {
		if c.Rules[i].matches(host, p) {
			return &c.Rules[i]
		}
	}
	return nil
}
