// Package throttle is Arbor's defence against online guessing: the nodes.Guard that
// every node checking a secret (a password, a recovery code) asks before checking it.
//
// Failed attempts are counted in the shared store, so every instance sees the same
// counts, in three scopes:
//
//   - per (user, client address): the scope that stops one attacker guessing one
//     account. A success clears it.
//   - per client address: stops one address spraying a few guesses at many accounts.
//   - per user, from every address: stops many addresses guessing one account. It is
//     account-wide, so it comes last and is made so that it cannot be used to lock the
//     real user out: an address that is refused by either of the first two scopes never
//     reaches it, the threshold lies above what one address can ever fail within the
//     window, an address the user has signed in from before is exempt from it, and its
//     delays expire by themselves. Each account-wide delay is audited.
//
// An address is an IPv4 address or an IPv6 /64 (one subscriber usually holds a whole
// /64). A door that cannot tell the address passes "", and its attempts are counted
// per user and per (user, no address) only.
//
// In each scope the first Free failures within the window cost nothing; after them each
// further failure makes the next attempt wait a delay that doubles, from BaseDelay up to
// MaxDelay. An attempt made too early is refused: the node answers as for a wrong
// secret, without checking it, so a refused guess is a wasted one. Refused attempts are
// not counted, so a real user who retries too early is not punished further.
//
// The throttle never looks a user up: unknown and known usernames are counted and
// answered exactly alike, so it tells an attacker nothing about which exist.
//
// # Counting in the store
//
// Counts are store counters (store.Store.Incr), one per scope and window, with the
// window's number, from the injected clock, in the key; a count is the current window's
// plus the previous window's weighted by how much of it still overlaps the last Window
// (a sliding-window estimate), so counts fade out smoothly instead of resetting at a
// window's edge. Allow counts the attempt before the secret is checked, so a burst of
// concurrent guesses cannot all pass before the first one fails: each takes its own
// free attempt, and past the free ones the right to try is claimed with a
// compare-and-swap on the scope's "not before" deadline, which exactly one of
// concurrent attempts wins. Succeeded takes the attempt back from the address and user
// counts (only failures count there) and clears the (user, address) scope. Store round
// trips: six for an allowed attempt (a deadline read and a count per scope), then five
// for a success, or six (and a write per scope past its free failures) for a failure.
//
// Keys hash the scope's identity (SHA-256), so an attacker's long or odd usernames make
// short keys, and no username or address is stored in clear.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// Config holds the thresholds and delays. The zero value of a field means its default
// (see Defaults).
type Config struct {
	// Window is how long failures are remembered.
	Window time.Duration
	// PairFree, AddressFree and UserFree are how many failures within Window each scope
	// allows before delays start: per (user, address), per address, per user.
	PairFree, AddressFree, UserFree int
	// BaseDelay is the first delay; each further failure doubles it, up to MaxDelay.
	BaseDelay, MaxDelay time.Duration
	// KnownAddress is how long an address the user signed in from stays exempt from
	// the account-wide (per user) delays.
	KnownAddress time.Duration
}

// Defaults are the settings Arbor runs with unless configured otherwise. One address
// gets 16 guesses at one user in the first hour and one an hour after that, 39 in a
// day (TestOneAddressNeverReachesTheAccountWideThreshold measures it; the README's
// Security section has the figures); the per-user threshold is NIST 800-63B's "no more
// than 100 consecutive failed attempts", well above what one address can fail in a day.
var Defaults = Config{
	Window:       24 * time.Hour,
	PairFree:     5,
	AddressFree:  100,
	UserFree:     100,
	BaseDelay:    time.Second,
	MaxDelay:     time.Hour,
	KnownAddress: 30 * 24 * time.Hour,
}

// withDefaults fills in the zero fields of c from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults
	if c.Window > 0 {
		d.Window = c.Window
	}
	if c.PairFree > 0 {
		d.PairFree = c.PairFree
	}
	if c.AddressFree > 0 {
		d.AddressFree = c.AddressFree
	}
	if c.UserFree > 0 {
		d.UserFree = c.UserFree
	}
	if c.BaseDelay > 0 {
		d.BaseDelay = c.BaseDelay
	}
	if c.MaxDelay > 0 {
		d.MaxDelay = c.MaxDelay
	}
	if c.KnownAddress > 0 {
		d.KnownAddress = c.KnownAddress
	}
	return d
}

// Validate reports settings that cannot work: negative values, or a maximum delay below
// the first one.
func (c Config) Validate() error {
	var errs []string
	if c.Window < 0 || c.BaseDelay < 0 || c.MaxDelay < 0 || c.KnownAddress < 0 {
		errs = append(errs, "durations must not be negative")
	}
	if c.PairFree < 0 || c.AddressFree < 0 || c.UserFree < 0 {
		errs = append(errs, "free attempts must not be negative")
	}
	if d := c.withDefaults(); d.MaxDelay < d.BaseDelay {
		errs = append(errs, fmt.Sprintf("the maximum delay %v is below the first delay %v", d.MaxDelay, d.BaseDelay))
	}
	if len(errs) > 0 {
		return fmt.Errorf("throttle: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Throttle implements nodes.Guard over a store. It is safe for concurrent use and keeps
// nothing in memory: every instance sharing the store shares the counts.
type Throttle struct {
	st    store.Store
	cfg   Config
	now   func() time.Time
	audit *audit.Logger
}

var _ nodes.Guard = (*Throttle)(nil)

// New returns a Throttle counting in st. now is the clock (time.Now if nil); audit
// receives the account-wide delays (nil discards them). cfg's zero fields take their
// defaults; New fails on a cfg that does not Validate.
func New(st store.Store, cfg Config, now func() time.Time, au *audit.Logger) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{st: st, cfg: cfg.withDefaults(), now: now, audit: au}, nil
}

// Config returns the settings in force, defaults filled in.
func (t *Throttle) Config() Config { return t.cfg }

// scope is one thing failures are counted against.
type scope struct {
	kind string // "pair", "address" or "user"
	id   string // hashed identity, the key's hash tag
	free int
	off  bool // not counted (no client address)
}

// Scope kinds, in the order Allow checks them.
const (
	kindAddress = "address"
	kindPair    = "pair"
	kindUser    = "user"
)

// scopes returns the address, (user, address) and user scopes of an attempt, in the
// order they are checked. Usernames match case-insensitively, as identity's do.
// A door that cannot tell the client's address passes "": such attempts have no
// address scope (one shared count would let anyone hold back everyone on that door),
// and their pair scope is per user.
func (t *Throttle) scopes(realm, user, clientIP string) [3]scope {
	u := strings.ToLower(user)
	ip := addressOf(clientIP)
	return [3]scope{
		{kind: kindAddress, id: hashID("a", ip), free: t.cfg.AddressFree, off: ip == ""},
		{kind: kindPair, id: hashID("p", realm, u, ip), free: t.cfg.PairFree},
		{kind: kindUser, id: hashID("u", realm, u), free: t.cfg.UserFree},
	}
}

// addressOf is the address attempts are counted by: an IPv4 address as it is, an IPv6
// address by its /64, since one subscriber usually holds a whole /64 and could otherwise
// guess from a fresh address each time. Anything else counts as written.
func addressOf(clientIP string) string {
	a, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return clientIP
	}
	return p.String()
}

// hashID is the hex SHA-256 of parts, each length-prefixed so no two lists collide.
func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// countKey is the key of a scope's counter in window w; untilKey holds the scope's
// "not before" deadline; knownKey marks that the user signed in from an address.
func countKey(s scope, w int64) string {
	return "throttle:{" + s.id + "}:n:" + strconv.FormatInt(w, 10)
}
func untilKey(s scope) string    { return "throttle:{" + s.id + "}:until" }
func knownKey(pair scope) string { return "throttle:{" + pair.id + "}:known" }

// window returns the number of the window now falls in, and how much of it has passed.
func (t *Throttle) window(now time.Time) (int64, float64) {
	w := int64(t.cfg.Window)
	ns := now.UnixNano()
	return ns / w, float64(ns%w) / float64(w)
}

// counterTTL lets the store forget a window's counter once it can no longer count.
func (t *Throttle) counterTTL() time.Duration { return 2*t.cfg.Window + time.Minute }

// delay is the wait after the k-th failure past the free ones (k >= 1).
func (t *Throttle) delay(k int64) time.Duration {
	d := t.cfg.BaseDelay
	for i := int64(1); i < k && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// deadline is a scope's "not before" time as stored, with the revision it was read at.
type deadline struct {
	at  time.Time
	rev uint64
}

// readUntil reads a scope's deadline; a missing one is the zero deadline.
func (t *Throttle) readUntil(ctx context.Context, s scope) (deadline, error) {
	it, err := t.st.Get(ctx, untilKey(s))
	if errors.Is(err, store.ErrNotFound) {
		return deadline{}, nil
	}
	if err != nil {
		return deadline{}, fmt.Errorf("throttle: read the %s deadline: %w", s.kind, err)
	}
	ns, err := strconv.ParseInt(string(it.Value), 10, 64)
	if err != nil {
		// A garbled value must not lift the throttle: treat it as far away and let a
		// failure overwrite it.
		return deadline{at: time.Unix(0, 1<<62), rev: it.Rev}, nil
	}
	return deadline{at: time.Unix(0, ns), rev: it.Rev}, nil
}

// encodeUntil is a deadline's stored form: Unix nanoseconds.
func encodeUntil(at time.Time) []byte { return []byte(strconv.FormatInt(at.UnixNano(), 10)) }

// untilTTL keeps a deadline in the store a little past the time it stands for; the
// stored time, read with the injected clock, is what counts.
func untilTTL(now, at time.Time) time.Duration { return max(at.Sub(now), 0) + time.Minute }

// count returns the sliding-window estimate of a scope's failures: the current
// window's count plus the previous window's, weighted by how much of it still lies
// within the last Window.
func (t *Throttle) count(ctx context.Context, s scope, now time.Time) (int64, error) {
	w, passed := t.window(now)
	cur, err := t.st.Incr(ctx, countKey(s, w), 0, t.counterTTL())
	if err != nil {
		return 0, fmt.Errorf("throttle: count the %s attempts: %w", s.kind, err)
	}
	prev, err := t.st.Incr(ctx, countKey(s, w-1), 0, t.counterTTL())
	if err != nil {
		return 0, fmt.Errorf("throttle: count the %s attempts: %w", s.kind, err)
	}
	return max(cur, 0) + int64(float64(max(prev, 0))*(1-passed)), nil
}

// Allow reports whether an attempt at user's secret from clientIP may be checked now
// (nodes.Guard). It counts the attempt; Failed or Succeeded must follow when it is
// allowed. A store failure is returned, and the node fails closed.
func (t *Throttle) Allow(ctx context.Context, realm, user, clientIP string) (time.Duration, error) {
	now := t.now()
	scopes := t.scopes(realm, user, clientIP)
	pair := scopes[1]
	// known is read only when the account-wide scope is in play: an address the user
	// signed in from is exempt from it.
	var known *bool
	isKnown := func() (bool, error) {
		if known == nil {
			k, err := t.known(ctx, pair)
			if err != nil {
				return false, err
			}
			known = &k
		}
		return *known, nil
	}
	// First a pass that only reads, in order: an attempt refused by the address or the
	// pair never reaches the account-wide count.
	var dls [3]deadline
	for i, s := range scopes {
		if s.off {
			continue
		}
		var err error
		if dls[i], err = t.readUntil(ctx, s); err != nil {
			return 0, err
		}
		if !now.Before(dls[i].at) {
			continue
		}
		if s.kind == kindUser {
			if k, err := isKnown(); err != nil || k {
				if err != nil {
					return 0, err
				}
				continue
			}
		}
		return dls[i].at.Sub(now), nil
	}
	// Then count the attempt in every scope, and claim the right to try where the free
	// attempts of the current window are used up. (Failed weighs in the previous
	// window too when it sets the next delay; for the claim the current one does, which
	// spares a round trip per scope on every login.)
	w := t.windowOf(now)
	var counted []scope
	undo := func() {
		for _, s := range counted {
			// Best effort: a count left behind only errs on the safe side.
			_, _ = t.st.Incr(context.WithoutCancel(ctx), countKey(s, w), -1, t.counterTTL())
		}
	}
	for i, s := range scopes {
		if s.off {
			continue
		}
		n, err := t.st.Incr(ctx, countKey(s, w), 1, t.counterTTL())
		if err != nil {
			undo()
			return 0, fmt.Errorf("throttle: count the %s attempts: %w", s.kind, err)
		}
		counted = append(counted, s)
		if n <= int64(s.free) {
			continue
		}
		if s.kind == kindUser {
			if k, err := isKnown(); err != nil || k {
				if err != nil {
					undo()
					return 0, err
				}
				continue
			}
		}
		// The claim holds the scope for the delay this attempt would earn by failing;
		// Failed then sets the next one, and a success leaves it be: the scope is
		// under attack, and the next attempt would have waited as long after a failure.
		d := t.delay(n - int64(s.free))
		hold := now.Add(d)
		if _, err := t.st.CAS(ctx, untilKey(s), encodeUntil(hold), dls[i].rev, untilTTL(now, hold)); err != nil {
			undo()
			if errors.Is(err, store.ErrConflict) { // a concurrent attempt claimed it first
				return d, nil
			}
			return 0, fmt.Errorf("throttle: claim the %s attempt: %w", s.kind, err)
		}
	}
	return 0, nil
}

// windowOf is the number of the window now falls in.
func (t *Throttle) windowOf(now time.Time) int64 {
	w, _ := t.window(now)
	return w
}

// known reports whether the user signed in from this address within KnownAddress.
func (t *Throttle) known(ctx context.Context, pair scope) (bool, error) {
	_, err := t.st.Get(ctx, knownKey(pair))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("throttle: read the known address: %w", err)
}

// Failed counts a wrong secret (nodes.Guard): the attempt Allow counted stands, and a
// scope past its free failures gets its next deadline. An account-wide delay is
// audited.
func (t *Throttle) Failed(ctx context.Context, realm, user, clientIP string) error {
	now := t.now()
	for _, s := range t.scopes(realm, user, clientIP) {
		if s.off {
			continue
		}
		n, err := t.count(ctx, s, now)
		if err != nil {
			return err
		}
		if n < int64(s.free) {
			continue
		}
		d := t.delay(n - int64(s.free) + 1)
		at := now.Add(d)
		if _, err := t.st.Set(ctx, untilKey(s), encodeUntil(at), untilTTL(now, at)); err != nil {
			return fmt.Errorf("throttle: set the %s deadline: %w", s.kind, err)
		}
		if s.kind == kindUser {
			t.audit.Emit(ctx, audit.Event{Type: audit.ThrottleUserDelayed, Realm: realm, User: user, Client: clientIP,
				Reason:  "failures from many addresses passed the per-user threshold",
				Details: map[string]any{"failures": n, "delay_seconds": d.Seconds(), "until": at.UTC().Format(time.RFC3339)}})
		}
	}
	return nil
}

// Succeeded records a right secret (nodes.Guard): it clears the (user, address) scope,
// takes the attempt back from the address and user counts (only failures count there),
// and remembers the address as one the user signs in from.
func (t *Throttle) Succeeded(ctx context.Context, realm, user, clientIP string) error {
	now := t.now()
	scopes := t.scopes(realm, user, clientIP)
	pair := scopes[1]
	w := t.windowOf(now)
	// Usually the pair counted only this attempt: one round trip takes it back, and
	// there is no deadline to clear.
	left, err := t.st.Incr(ctx, countKey(pair, w), -1, t.counterTTL())
	if err != nil {
		return fmt.Errorf("throttle: clear the pair count: %w", err)
	}
	prev, err := t.st.Incr(ctx, countKey(pair, w-1), 0, t.counterTTL())
	if err != nil {
		return fmt.Errorf("throttle: clear the pair count: %w", err)
	}
	if left != 0 || prev != 0 {
		for _, k := range []string{countKey(pair, w), countKey(pair, w-1)} {
			if err := t.takeBack(ctx, k, 0); err != nil {
				return fmt.Errorf("throttle: clear the pair count: %w", err)
			}
		}
		if err := t.st.Delete(ctx, untilKey(pair)); err != nil {
			return fmt.Errorf("throttle: clear the pair deadline: %w", err)
		}
	}
	for _, s := range []scope{scopes[0], scopes[2]} {
		if s.off {
			continue
		}
		if err := t.takeBack(ctx, countKey(s, w), 1); err != nil {
			return fmt.Errorf("throttle: take back the %s attempt: %w", s.kind, err)
		}
	}
	return t.remember(ctx, pair, now)
}

// remember marks the pair's address as one the user signs in from, for KnownAddress.
// The mark is rewritten only when missing or half its time old: a read costs the store
// less than a write, and most sign-ins come from addresses already known.
func (t *Throttle) remember(ctx context.Context, pair scope, now time.Time) error {
	it, err := t.st.Get(ctx, knownKey(pair))
	switch {
	case err == nil:
		if at, perr := strconv.ParseInt(string(it.Value), 10, 64); perr == nil && now.Sub(time.Unix(at, 0)) < t.cfg.KnownAddress/2 {
			return nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("throttle: read the known address: %w", err)
	}
	if _, err := t.st.Set(ctx, knownKey(pair), []byte(strconv.FormatInt(now.Unix(), 10)), t.cfg.KnownAddress); err != nil {
		return fmt.Errorf("throttle: remember the address: %w", err)
	}
	return nil
}

// takeBack lowers the counter at key by n, or to zero when n is 0, never below zero.
// Delete does not reach counters (they are their own key space), so a count is cleared
// by subtracting it; attempts counted in between stay counted.
func (t *Throttle) takeBack(ctx context.Context, key string, n int64) error {
	if n > 0 { // one round trip, and a second only in the rare case it went below zero
		c, err := t.st.Incr(ctx, key, -n, t.counterTTL())
		if err != nil || c >= 0 {
			return err
		}
		_, err = t.st.Incr(ctx, key, -c, t.counterTTL())
		return err
	}
	cur, err := t.st.Incr(ctx, key, 0, t.counterTTL())
	if err != nil || cur <= 0 {
		return err
	}
	_, err = t.st.Incr(ctx, key, -cur, t.counterTTL())
	return err
}
