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
// counts (only failures count there) and clears the (user, address) scope.
//
// The operations of one call go to the store together as one batch (store.Do), a
// single round trip on Redis: a sign-in with the right secret from a known address
// costs two store calls, one in Allow and one in Succeeded; a wrong secret costs two
// (Allow, and Failed's reads), and a third for the deadlines of the scopes past their
// free failures (TestStoreCallsPerAttempt).
//
// # The success record rides with the flow
//
// In a journey, a right secret costs one call: AllowDeferred returns the success
// record as writes that read nothing, and the node leaves them to the engine
// (nodes.WriteBehind), which sends them in the batch that saves or finishes the flow.
// The record zeroes the pair's counts (store.OpZero) and deletes its deadline, so it
// clears whatever the pair holds when it lands, failures counted since the check
// included, exactly as Succeeded does; it takes the attempt back from the address and
// user counts, and writes the known-address mark when the check found it missing or
// stale. None of it depends on when it lands, so it is written whether the flow's
// write wins or loses the race to a concurrent submission of the same step (the loser
// checked a right secret too). If it never lands (the carrying batch failed, or the
// walk ended in an error first), the attempt stays counted in every scope as a failure
// would be, which only errs on the safe side.
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
	// The scope's keys: its deadline, its counts in the attempt's window and in the
	// one before, and (the pair's) the known-address mark (see scopes).
	until, count, prev, known string
}

// Scope kinds, in the order Allow checks them.
const (
	kindAddress = "address"
	kindPair    = "pair"
	kindUser    = "user"
)

// scopes returns the address, (user, address) and user scopes of an attempt in window
// w, in the order they are checked. Usernames match case-insensitively, as identity's do.
// A door that cannot tell the client's address passes "": such attempts have no
// address scope (one shared count would let anyone hold back everyone on that door),
// and their pair scope is per user.
//
// Every key of the three scopes is cut from one string, built on the stack: a check and
// its success record use eleven, and building each (and each hashed id) on its own was
// about 25 allocations a login (README, Speed, "Fifth round: allocations").
func (t *Throttle) scopes(realm, user, clientIP string, w int64) [3]scope {
	u := strings.ToLower(user)
	ip := addressOf(clientIP)
	sc := [3]scope{
		{kind: kindAddress, free: t.cfg.AddressFree, off: ip == ""},
		{kind: kindPair, free: t.cfg.PairFree},
		{kind: kindUser, free: t.cfg.UserFree},
	}
	// ends[i] are where scope i's id and keys end in b, in the order of scopeKeys.
	var ends [3][5]int
	var buf [768]byte
	b := buf[:0]
	for i := range sc {
		switch i {
		case 0:
			b = appendID(b, "a", ip)
		case 1:
			b = appendID(b, "p", realm, u, ip)
		default:
			b = appendID(b, "u", realm, u)
		}
		ends[i][0] = len(b)
		id := b[len(b)-2*idBytes:]
		b = appendKey(b, id, ":until")
		ends[i][1] = len(b)
		b = strconv.AppendInt(appendKey(b, id, ":n:"), w, 10)
		ends[i][2] = len(b)
		b = strconv.AppendInt(appendKey(b, id, ":n:"), w-1, 10)
		ends[i][3] = len(b)
		b = appendKey(b, id, ":known")
		ends[i][4] = len(b)
	}
	all := string(b)
	start := 0
	for i := range sc {
		e := ends[i]
		sc[i].id, sc[i].until, sc[i].count = all[start:e[0]], all[e[0]:e[1]], all[e[1]:e[2]]
		sc[i].prev, sc[i].known = all[e[2]:e[3]], all[e[3]:e[4]]
		start = e[4]
	}
	return sc
}

// idBytes is how much of a SHA-256 a scope's id keeps (hex-encoded in its keys).
const idBytes = 16

// appendKey appends the key of a scope whose id is id and whose suffix is suffix:
// throttle:{ID}suffix, the id being the key's hash tag.
func appendKey(b, id []byte, suffix string) []byte {
	b = append(b, "throttle:{"...)
	b = append(b, id...)
	b = append(b, '}')
	return append(b, suffix...)
}

// addressOf is the address attempts are counted by: an IPv4 address as it is, an IPv6
// address by its /64, since one subscriber usually holds a whole /64 and could otherwise
// guess from a fresh address each time. Anything else counts as written.
func addressOf(clientIP string) string {
	a, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	if a.Is4() {
		// ParseAddr takes an IPv4 address only in its one spelling (no leading zeros),
		// so it is its own String, without the allocation.
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

// appendID appends the hex of the first idBytes of the SHA-256 of parts, each
// length-prefixed so no two lists collide.
func appendID(b []byte, parts ...string) []byte {
	var in [256]byte
	m := in[:0]
	for _, p := range parts {
		m = strconv.AppendInt(m, int64(len(p)), 10)
		m = append(m, ':')
		m = append(m, p...)
	}
	sum := sha256.Sum256(m)
	return hex.AppendEncode(b, sum[:idBytes])
}

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

// untilOf decodes a scope's deadline from a batched read; a missing one is the zero
// deadline.
func untilOf(op *store.Op) deadline {
	if op.Err != nil { // not found: a batched Get has no other outcome
		return deadline{}
	}
	ns, err := strconv.ParseInt(string(op.Item.Value), 10, 64)
	if err != nil {
		// A garbled value must not lift the throttle: treat it as far away and let a
		// failure overwrite it.
		return deadline{at: time.Unix(0, 1<<62), rev: op.Item.Rev}
	}
	return deadline{at: time.Unix(0, ns), rev: op.Item.Rev}
}

// encodeUntil is a deadline's stored form: Unix nanoseconds.
func encodeUntil(at time.Time) []byte { return []byte(strconv.FormatInt(at.UnixNano(), 10)) }

// untilTTL keeps a deadline in the store a little past the time it stands for; the
// stored time, read with the injected clock, is what counts.
func untilTTL(now, at time.Time) time.Duration { return max(at.Sub(now), 0) + time.Minute }

// Allow reports whether an attempt at user's secret from clientIP may be checked now
// (nodes.Guard). It counts the attempt; Failed or Succeeded must follow when it is
// allowed. A store failure is returned, and the node fails closed.
//
// It costs one store batch: the scopes' deadlines, the known-address mark, and the
// attempt counted in every scope, all at once. An attempt that the deadlines then
// refuse takes its count back in a second batch, so refused attempts are not counted,
// though concurrent attempts may see them counted for that moment (which only ever
// errs on the safe side). Past a scope's free failures, the right to try is claimed
// with a compare-and-swap of its deadline, one more call per such scope.
func (t *Throttle) Allow(ctx context.Context, realm, user, clientIP string) (time.Duration, error) {
	_, wait, err := t.allow(ctx, realm, user, clientIP, nil)
	return wait, err
}

var (
	_ nodes.BatchGuard     = (*Throttle)(nil)
	_ nodes.DeferringGuard = (*Throttle)(nil)
)

// AllowWith is Allow that runs reads, the caller's own ops on keys of their own (the
// account whose secret is checked), in its batch (nodes.BatchGuard): a password check
// then costs no round trip before the hash.
func (t *Throttle) AllowWith(ctx context.Context, realm, user, clientIP string, reads []store.Op) (time.Duration, error) {
	_, wait, err := t.allow(ctx, realm, user, clientIP, reads)
	return wait, err
}

// AllowDeferred is AllowWith that also returns the writes that record this attempt's
// success (nodes.DeferringGuard), for the caller to send with a write of its own (the
// flow's) instead of calling Succeeded: a right secret then costs no round trip after
// the check. The record is what Succeeded does, written blind (it reads nothing, so it
// can ride in a batch of writes) yet right whenever it lands: the pair's counts of the
// current and the previous window zeroed (store.OpZero) and its deadline deleted, so
// the pair holds nothing after it whatever landed since the check (as after Succeeded,
// which clears what it finds); the attempt taken back from the address and user
// counts, on the very window key the check counted it in; the known-address mark
// written when the check found it missing or half its time old.
func (t *Throttle) AllowDeferred(ctx context.Context, realm, user, clientIP string, reads []store.Op) ([]store.Op, time.Duration, error) {
	c, wait, err := t.allow(ctx, realm, user, clientIP, reads)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	return t.successRecord(c), 0, nil
}

// checked is what an allowed check leaves for the success record: the scopes it
// counted in, the window it counted them in, the known-address mark it read and its
// clock.
type checked struct {
	scopes [3]scope
	w      int64
	mark   store.Op
	now    time.Time
	// buf is the check's batch, done with once it ran: the success record is built in
	// it (see batchRoom).
	buf []store.Op
}

// batchRoom is the least capacity a check's batch is made with: the success
// record is built in the same buffer once the check ran (at most recordOps), with
// finishRoom to spare for the batch the record rides in (engine.finishWrite appends a
// session's two ops and the flow's write to it: nodes.WriteBehind.Ops). One buffer
// then serves a password login's check, its record and its commit; three were made
// before, and each store.Op is 224 bytes (README, Speed, "Fifth round: allocations").
const (
	recordOps  = 6 // clearOps' five at most, and the known-address mark
	finishRoom = 3
	batchRoom  = recordOps + finishRoom
)

// allow is AllowWith, and returns for AllowDeferred what the success record needs.
func (t *Throttle) allow(ctx context.Context, realm, user, clientIP string, reads []store.Op) (checked, time.Duration, error) {
	now := t.now()
	w := t.windowOf(now)
	scopes := t.scopes(realm, user, clientIP, w)
	pair := scopes[1]
	// ops holds, for each counted scope in order, its deadline read and its count, then
	// the known-address mark, then the caller's reads.
	ops := make([]store.Op, 0, max(2*len(scopes)+1+len(reads), batchRoom))
	var at [3]int // index in ops of each scope's deadline read; its count follows
	for i, s := range scopes {
		if s.off {
			continue
		}
		at[i] = len(ops)
		ops = append(ops, store.GetOp(s.until), store.IncrOp(s.count, 1, t.counterTTL()))
	}
	mark := len(ops)
	ops = append(ops, store.GetOp(pair.known))
	own := len(ops) // where the caller's reads start
	ops = append(ops, reads...)
	undo := func() {
		back := make([]store.Op, 0, len(scopes))
		for _, s := range scopes {
			if !s.off {
				back = append(back, store.IncrOp(s.count, -1, t.counterTTL()))
			}
		}
		// Best effort: a count left behind only errs on the safe side.
		_ = store.Do(context.WithoutCancel(ctx), t.st, back)
	}
	err := store.Do(ctx, t.st, ops)
	copy(reads, ops[own:])
	if err != nil {
		// Which counts were taken is unknown, and the attempt was never checked: the
		// counts are taken back where they landed. Left behind, they would refuse a
		// client that retries its step through an outage (on a Redis Cluster that lost
		// a master, the counts on the other masters land on every retry) once the store
		// is back, a wrong answer where a 503 is due (TestFailoverMidJourney).
		undo()
		return checked{}, 0, fmt.Errorf("throttle: count the attempt: %w", err)
	}
	// An address the user signed in from is exempt from the account-wide scope.
	known := ops[mark].Err == nil
	// In order: an attempt refused by the address or the pair is refused before the
	// account-wide scope is looked at.
	var dls [3]deadline
	for i, s := range scopes {
		if s.off {
			continue
		}
		dls[i] = untilOf(&ops[at[i]])
		if !now.Before(dls[i].at) || (s.kind == kindUser && known) {
			continue
		}
		undo()
		return checked{}, dls[i].at.Sub(now), nil
	}
	// Claim the right to try where the free attempts of the current window are used up.
	// (Failed weighs in the previous window too when it sets the next delay; for the
	// claim the current one does, which spares a read per scope on every login.)
	for i, s := range scopes {
		if s.off {
			continue
		}
		n := ops[at[i]+1].N
		if n <= int64(s.free) || (s.kind == kindUser && known) {
			continue
		}
		// The claim holds the scope for the delay this attempt would earn by failing;
		// Failed then sets the next one, and a success leaves it be: the scope is
		// under attack, and the next attempt would have waited as long after a failure.
		d := t.delay(n - int64(s.free))
		hold := now.Add(d)
		if _, err := t.st.CAS(ctx, s.until, encodeUntil(hold), dls[i].rev, untilTTL(now, hold)); err != nil {
			undo()
			if errors.Is(err, store.ErrConflict) { // a concurrent attempt claimed it first
				return checked{}, d, nil
			}
			return checked{}, 0, fmt.Errorf("throttle: claim the %s attempt: %w", s.kind, err)
		}
	}
	return checked{scopes: scopes, w: w, mark: ops[mark], now: now, buf: ops}, 0, nil
}

// successRecord is the writes that record the success of the attempt c describes
// (see AllowDeferred): clearOps, and the known-address mark written when the check
// found it missing or half its time old (most sign-ins come from addresses already
// known). None of them depends on what the store holds when they land, so the record
// is as right after a concurrent attempt, a lost race for the flow's step or a second
// record of the pair as it is alone, and writing the mark twice is harmless.
func (t *Throttle) successRecord(c checked) []store.Op {
	// The check's batch is done with: its results were read or copied out. Cleared, so
	// that the spare room keeps no value it read alive.
	buf := c.buf[:cap(c.buf)]
	clear(buf)
	ops := t.clearOps(c, buf[:0])
	if t.stale(c.mark, c.now) {
		ops = append(ops, t.markOp(c))
	}
	return ops
}

// clearOps appends to ops the writes that clear what a success clears, blind:
//   - the pair's counts of the current and the previous window zeroed (store.OpZero),
//     which clears this attempt, the failures before it and those counted since the
//     check, and never takes a count below zero. The blind subtraction of what the
//     check saw, which this replaces, did, and its repair by the next success
//     overshot the other way: with three or more logins of one pair in flight the
//     count swung further each time, and 10 to 40 % of arbor bench's logins were
//     refused (README Speed, "third round"; TestOverlappingSuccessesOfOnePair);
//   - the pair's deadline deleted, always rather than only when the check saw one: a
//     concurrent attempt past the free ones may have claimed it since, and a Delete of
//     a missing key costs no write on either backend (the embedded store appends
//     nothing; on Redis it is one more command in a pipeline sent anyway);
//   - the attempt taken back from the address and user counts (only failures count
//     there), on the window key it was counted in.
func (t *Throttle) clearOps(c checked, ops []store.Op) []store.Op {
	pair := c.scopes[1]
	ops = append(ops, store.ZeroOp(pair.count), store.ZeroOp(pair.prev), store.DeleteOp(pair.until))
	for _, s := range []scope{c.scopes[0], c.scopes[2]} {
		if !s.off {
			ops = append(ops, store.IncrOp(s.count, -1, t.counterTTL()))
		}
	}
	return ops
}

// markOp writes the known-address mark of c's pair: the user signed in from there.
func (t *Throttle) markOp(c checked) store.Op {
	return store.SetOp(c.scopes[1].known, []byte(strconv.FormatInt(c.now.Unix(), 10)), t.cfg.KnownAddress)
}

// windowOf is the number of the window now falls in.
func (t *Throttle) windowOf(now time.Time) int64 {
	w, _ := t.window(now)
	return w
}

// Failed counts a wrong secret (nodes.Guard): the attempt Allow counted stands, and a
// scope past its free failures gets its next deadline. An account-wide delay is
// audited. It costs one batch reading the counts, and one writing the deadlines of the
// scopes past their free failures, if any.
func (t *Throttle) Failed(ctx context.Context, realm, user, clientIP string) error {
	now := t.now()
	w, passed := t.window(now)
	scopes := t.scopes(realm, user, clientIP, w)
	reads := make([]store.Op, 0, 2*len(scopes))
	for _, s := range scopes {
		if !s.off {
			reads = append(reads, store.IncrOp(s.count, 0, 0), store.IncrOp(s.prev, 0, 0))
		}
	}
	if err := store.Do(ctx, t.st, reads); err != nil {
		return fmt.Errorf("throttle: count the failed attempts: %w", err)
	}
	var (
		writes  []store.Op
		audited []audit.Event
	)
	next := 0
	for _, s := range scopes {
		if s.off {
			continue
		}
		// The sliding-window estimate: the current window's count plus the previous
		// window's, weighted by how much of it still lies within the last Window.
		cur, prev := reads[next].N, reads[next+1].N
		next += 2
		n := max(cur, 0) + int64(float64(max(prev, 0))*(1-passed))
		if n < int64(s.free) {
			continue
		}
		d := t.delay(n - int64(s.free) + 1)
		at := now.Add(d)
		writes = append(writes, store.SetOp(s.until, encodeUntil(at), untilTTL(now, at)))
		if s.kind == kindUser {
			audited = append(audited, audit.Event{Type: audit.ThrottleUserDelayed, Realm: realm, User: user, Client: clientIP,
				Reason:  "failures from many addresses passed the per-user threshold",
				Details: map[string]any{"failures": n, "delay_seconds": d.Seconds(), "until": at.UTC().Format(time.RFC3339)}})
		}
	}
	if err := store.Do(ctx, t.st, writes); err != nil {
		return fmt.Errorf("throttle: set the deadlines: %w", err)
	}
	for _, ev := range audited {
		t.audit.Emit(ctx, ev)
	}
	return nil
}

// Succeeded records a right secret (nodes.Guard): it clears the (user, address) scope,
// takes the attempt back from the address and user counts (only failures count there),
// and remembers the address as one the user signs in from. It is the record written at
// once, for a check made outside a journey's walk; within one, AllowDeferred's record
// rides with the flow's write instead. Both clear alike (clearOps).
//
// It costs one batch: the clearing writes and the known-address mark's read. Only what
// that batch shows needs it costs a second: an address or user count below zero (a
// success that landed in a later window than its check), a mark missing or half its
// time old.
func (t *Throttle) Succeeded(ctx context.Context, realm, user, clientIP string) error {
	now := t.now()
	w := t.windowOf(now)
	c := checked{scopes: t.scopes(realm, user, clientIP, w), w: w, now: now}
	ops := t.clearOps(c, make([]store.Op, 0, 6))
	ops = append(ops, store.GetOp(c.scopes[1].known))
	if err := store.Do(ctx, t.st, ops); err != nil {
		return fmt.Errorf("throttle: record the success: %w", err)
	}
	var fix []store.Op
	// A count taken below zero (the address and user counts are the batch's only
	// increments) is brought back to zero; attempts counted in between stay counted.
	for _, op := range ops {
		if op.Kind == store.OpIncr && op.N < 0 {
			fix = append(fix, store.IncrOp(op.Key, -op.N, t.counterTTL()))
		}
	}
	if t.stale(ops[len(ops)-1], now) {
		fix = append(fix, t.markOp(c))
	}
	if err := store.Do(ctx, t.st, fix); err != nil {
		return fmt.Errorf("throttle: remember the address: %w", err)
	}
	return nil
}

// stale reports whether the known-address mark that op read is missing or was written
// half of KnownAddress ago or more, and so is written again: most sign-ins come from
// addresses already known.
func (t *Throttle) stale(op store.Op, now time.Time) bool {
	if op.Err != nil {
		return true
	}
	at, err := strconv.ParseInt(string(op.Item.Value), 10, 64)
	return err != nil || now.Sub(time.Unix(at, 0)) >= t.cfg.KnownAddress/2
}
