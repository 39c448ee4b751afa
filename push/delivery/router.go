package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Rule sends the messages it matches to a provider, as a LinOTP push_provider policy
// does. A message matches when its realm, user and client IP each match; an empty list
// matches anything.
type Rule struct {
	// Name identifies the rule in logs and errors; it defaults to "rules[i]".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Realms are realm names, matched exactly.
	Realms []string `yaml:"realms,omitempty" json:"realms,omitempty"`
	// Users are user names, matched exactly or as path.Match globs ("svc-*").
	Users []string `yaml:"users,omitempty" json:"users,omitempty"`
	// Networks are CIDRs ("10.0.0.0/8", "2001:db8::/32") or single addresses the
	// login's client IP must fall in.
	Networks []string `yaml:"networks,omitempty" json:"networks,omitempty"`
	// Provider names the provider for matching messages. When it does not support the
	// device's communication type the next rule is tried.
	Provider string `yaml:"provider" json:"provider"`
}

// ProviderStats counts one provider's deliveries.
type ProviderStats struct {
	// Delivered counts sends that succeeded.
	Delivered uint64
	// Failed counts sends that failed.
	Failed uint64
}

// DefaultRule is the rule name Route reports when a communication default chose the
// provider.
const DefaultRule = "default"

// Router is the Deliverer built from configuration: it picks a provider for each
// message by rules and per-communication defaults, bounds the send by a deadline and
// reports the result. It is safe for concurrent use.
type Router struct {
	// OnResult, when set, is called after every delivery with the provider's name ("" when
	// none was found) and the error (nil on success), for metrics. It is called
	// synchronously and concurrently, so it must be quick and safe for concurrent use;
	// set it before the first Deliver.
	OnResult func(provider string, err error)

	log        *slog.Logger
	routes     map[string]*route
	order      []string
	rules      []compiledRule
	defaults   map[string]*route
	noProvider atomic.Uint64
}

// route is one provider with its deadline and counters.
type route struct {
	p         Provider
	timeout   time.Duration
	delivered atomic.Uint64
	failed    atomic.Uint64
}

// compiledRule is a Rule with its networks parsed and provider resolved.
type compiledRule struct {
	name     string
	realms   []string
	users    []string
	networks []netip.Prefix
	route    *route
}

// NewRouter returns a Router over providers (names must be unique), rules tried in
// order, and defaults mapping a communication type ("fcm", "apns", "poll", ...; "gcm"
// means "fcm") to a provider name. It checks everything and reports every problem in
// a *ConfigError.
// logger receives routing and failure logs; slog.Default() is used when it is nil.
func NewRouter(providers []Provider, rules []Rule, defaults map[string]string, logger *slog.Logger) (*Router, error) {
	r, errs := newRouter(providers, rules, defaults, logger)
	if len(errs) > 0 {
		return nil, &ConfigError{Problems: errs}
	}
	return r, nil
}

// newRouter is NewRouter returning the list of problems.
func newRouter(providers []Provider, rules []Rule, defaults map[string]string, logger *slog.Logger) (*Router, []error) {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Router{log: logger, routes: map[string]*route{}, defaults: map[string]*route{}}
	var errs []error
	for i, p := range providers {
		if p == nil {
			errs = append(errs, fmt.Errorf("providers[%d]: nil provider", i))
			continue
		}
		name := p.Name()
		if name == "" {
			errs = append(errs, fmt.Errorf("providers[%d]: empty name", i))
			continue
		}
		if _, dup := r.routes[name]; dup {
			errs = append(errs, fmt.Errorf("providers[%d]: duplicate provider name %q", i, name))
			continue
		}
		timeout := DefaultTimeout
		if tp, ok := p.(TimeoutProvider); ok && tp.Timeout() > 0 {
			timeout = tp.Timeout()
		}
		r.routes[name] = &route{p: p, timeout: timeout}
		r.order = append(r.order, name)
	}
	seen := map[string]bool{}
	for i, rule := range rules {
		cr, rerrs := r.compileRule(i, rule)
		if len(rerrs) > 0 {
			errs = append(errs, rerrs...)
			continue
		}
		if seen[cr.name] {
			errs = append(errs, fmt.Errorf("rules[%d]: duplicate rule name %q", i, cr.name))
			continue
		}
		seen[cr.name] = true
		r.rules = append(r.rules, cr)
	}
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := defaults[k]
		comm := NormalizeCommunication(k)
		where := fmt.Sprintf("defaults.%s", k)
		if comm == "" {
			errs = append(errs, fmt.Errorf("%s: empty communication type", where))
			continue
		}
		if _, dup := r.defaults[comm]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is already set (gcm is an alias of fcm)", where, comm))
			continue
		}
		rt, ok := r.routes[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown provider %q (have %s)", where, name, r.known()))
			continue
		}
		if !rt.p.Supports(comm) {
			errs = append(errs, fmt.Errorf("%s: provider %q does not support communication %q", where, name, comm))
			continue
		}
		r.defaults[comm] = rt
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// known lists the provider names for error messages.
func (r *Router) known() string {
	if len(r.order) == 0 {
		return "none"
	}
	return strings.Join(r.order, ", ")
}

// compileRule checks rule i and resolves its provider.
func (r *Router) compileRule(i int, rule Rule) (compiledRule, []error) {
	name := rule.Name
	if name == "" {
		name = fmt.Sprintf("rules[%d]", i)
	}
	where := fmt.Sprintf("rules[%d] %q", i, name)
	var errs []error
	cr := compiledRule{name: name, realms: rule.Realms, users: rule.Users}
	if rule.Provider == "" {
		errs = append(errs, fmt.Errorf("%s: no provider", where))
	} else if rt, ok := r.routes[rule.Provider]; ok {
		cr.route = rt
	} else {
		errs = append(errs, fmt.Errorf("%s: unknown provider %q (have %s)", where, rule.Provider, r.known()))
	}
	for _, u := range rule.Users {
		if _, err := path.Match(u, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s: user pattern %q: %w", where, u, err))
		}
	}
	for _, n := range rule.Networks {
		p, err := parseNetwork(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: network %q: %w", where, n, err))
			continue
		}
		cr.networks = append(cr.networks, p)
	}
	return cr, errs
}

// parseNetwork parses a CIDR or a single address. IPv4-mapped IPv6 prefixes become
// IPv4 prefixes, since client addresses are unmapped before matching.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// parseClientIP parses a client address, with or without a port, unmapping IPv4-mapped
// IPv6 addresses and dropping zones.
func parseClientIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// matches reports whether the rule's realm, user and network conditions hold.
func (cr *compiledRule) matches(realm, user string, ip netip.Addr, ipOK bool) bool {
	if len(cr.realms) > 0 && !slices.Contains(cr.realms, realm) {
		return false
	}
	if len(cr.users) > 0 && !slices.ContainsFunc(cr.users, func(p string) bool {
		ok, _ := path.Match(p, user)
		return ok
	}) {
		return false
	}
	if len(cr.networks) > 0 && (!ipOK || !slices.ContainsFunc(cr.networks, func(p netip.Prefix) bool {
		return p.Contains(ip)
	})) {
		return false
	}
	return true
}

// pick returns the route for m and the name of the rule (or DefaultRule) that chose it.
func (r *Router) pick(m Message) (*route, string, error) {
	comm := NormalizeCommunication(m.Device.Communication)
	ip, ipOK := parseClientIP(m.ClientIP)
	for i := range r.rules {
		cr := &r.rules[i]
		if cr.matches(m.Realm, m.User, ip, ipOK) && cr.route.p.Supports(comm) {
			return cr.route, cr.name, nil
		}
	}
	if rt, ok := r.defaults[comm]; ok {
		return rt, DefaultRule, nil
	}
	return nil, "", fmt.Errorf("delivery: device %q with communication %q: %w: %w", m.Device.ID, m.Device.Communication, ErrTransmission, ErrNoProvider)
}

// Route reports which provider Deliver would use for m, and the rule that chose it
// (DefaultRule when a communication default did). The error wraps ErrNoProvider and
// ErrTransmission when there is none.
func (r *Router) Route(m Message) (provider, rule string, err error) {
	rt, rule, err := r.pick(m)
	if err != nil {
		return "", "", err
	}
	return rt.p.Name(), rule, nil
}

// Validity returns how long a push to m's device should stay valid when the provider
// the rules pick for it says (a ValidityProvider, such as challenge_service), else 0.
// The push service asks before it signs the message, so the expiry the device sees is
// the provider's.
func (r *Router) Validity(m Message) time.Duration {
	rt, _, err := r.pick(m)
	if err != nil {
		return 0
	}
	if vp, ok := rt.p.(ValidityProvider); ok {
		return vp.Validity()
	}
	return 0
}

// Deliver sends m through the provider the rules or defaults pick, within
// min(ctx's deadline, the provider's timeout). Every error wraps ErrTransmission.
// Outcomes are logged at debug level only: the caller gets the error and decides how
// loudly to report it.
func (r *Router) Deliver(ctx context.Context, m Message) error {
	rt, rule, err := r.pick(m)
	if err != nil {
		r.noProvider.Add(1)
		r.log.LogAttrs(ctx, slog.LevelDebug, "push not delivered", slog.String("message_id", m.MessageID), slog.String("device", m.Device.ID), slog.Any("error", err))
		r.report("", err)
		return err
	}
	name := rt.p.Name()
	sctx, cancel := context.WithTimeout(ctx, rt.timeout)
	defer cancel()
	start := time.Now()
	err = send(sctx, rt.p, m)
	if err != nil && !errors.Is(err, ErrTransmission) {
		err = transmissionError(name, "send", err)
	}
	if err != nil {
		rt.failed.Add(1)
		r.log.LogAttrs(ctx, slog.LevelDebug, "push not delivered",
			slog.String("provider", name), slog.String("rule", rule),
			slog.String("message_id", m.MessageID), slog.String("device", m.Device.ID),
			slog.Duration("took", time.Since(start)), slog.Any("error", err))
	} else {
		rt.delivered.Add(1)
		r.log.LogAttrs(ctx, slog.LevelDebug, "push delivered",
			slog.String("provider", name), slog.String("rule", rule),
			slog.String("message_id", m.MessageID), slog.String("device", m.Device.ID),
			slog.Duration("took", time.Since(start)))
	}
	r.report(name, err)
	return err
}

// send runs p.Send but returns when ctx ends even if p does not honour it, so a
// misbehaving provider cannot hang a journey.
func send(ctx context.Context, p Provider, m Message) error {
	done := make(chan error, 1)
	go func() { done <- p.Send(ctx, m) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return transmissionError(p.Name(), "no answer before the deadline", ctx.Err())
		}
	}
}

// report calls OnResult when it is set.
func (r *Router) report(provider string, err error) {
	if r.OnResult != nil {
		r.OnResult(provider, err)
	}
}

// Providers returns the provider names in configuration order.
func (r *Router) Providers() []string { return slices.Clone(r.order) }

// Stats returns the delivery counts per provider name; the "" entry counts messages
// for which no provider was found (as failures).
func (r *Router) Stats() map[string]ProviderStats {
	out := make(map[string]ProviderStats, len(r.routes)+1)
	for name, rt := range r.routes {
		out[name] = ProviderStats{Delivered: rt.delivered.Load(), Failed: rt.failed.Load()}
	}
	out[""] = ProviderStats{Failed: r.noProvider.Load()}
	return out
}
