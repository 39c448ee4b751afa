package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
	"github.com/arbor-auth/arbor/store/storetest"
	"github.com/arbor-auth/arbor/throttle"
)

// clock is a test clock that only moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a throttle over one backend, with its clock and audit events.
type env struct {
	th    *throttle.Throttle
	clock *clock
	rec   *audit.Recorder
	st    *storetest.Flaky
	// deferred makes login record a success as the engine does: AllowDeferred's record
	// written afterwards, instead of Succeeded.
	deferred bool
}

// backends runs f against the embedded store and a real redis-server.
func backends(t *testing.T, f func(t *testing.T, newEnv func(cfg throttle.Config) *env)) {
	t.Run("embedded", func(t *testing.T) {
		f(t, func(cfg throttle.Config) *env {
			st, err := embedded.Open(embedded.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return newEnv(t, st, cfg)
		})
	})
	t.Run("redis", func(t *testing.T) {
		f(t, func(cfg throttle.Config) *env {
			srv := testredis.Start(t) // a fresh server each, so no counts carry over
			st, err := redisstore.Open(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return newEnv(t, st, cfg)
		})
	})
}

func newEnv(t *testing.T, st store.Store, cfg throttle.Config) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}, rec: &audit.Recorder{}, st: storetest.NewFlaky(st)}
	al := audit.New(slog.New(slog.DiscardHandler))
	al.AddSink(e.rec.Sink())
	th, err := throttle.New(e.st, cfg, e.clock.Now, al)
	if err != nil {
		t.Fatal(err)
	}
	e.th = th
	return e
}

// guess makes one wrong attempt if allowed and reports the wait when refused.
func (e *env) guess(t *testing.T, user, ip string) time.Duration {
	t.Helper()
	ctx := context.Background()
	wait, err := e.th.Allow(ctx, "/", user, ip)
	if err != nil {
		t.Fatalf("Allow(%s, %s): %v", user, ip, err)
	}
	if wait > 0 {
		return wait
	}
	if err := e.th.Failed(ctx, "/", user, ip); err != nil {
		t.Fatalf("Failed(%s, %s): %v", user, ip, err)
	}
	return 0
}

// login makes one right attempt; it reports false when refused.
func (e *env) login(t *testing.T, user, ip string) bool {
	t.Helper()
	return e.loginWith(t, user, ip, nil)
}

// loginWith is login that runs between, if not nil, after the check and before the
// success is recorded: what lands while the hash is checked and, when deferred, until
// the flow's write carries the record.
func (e *env) loginWith(t *testing.T, user, ip string, between func()) bool {
	t.Helper()
	ctx := context.Background()
	var (
		record []store.Op
		wait   time.Duration
		err    error
	)
	if e.deferred {
		record, wait, err = e.th.AllowDeferred(ctx, "/", user, ip, nil)
	} else {
		wait, err = e.th.Allow(ctx, "/", user, ip)
	}
	if err != nil {
		t.Errorf("Allow(%s, %s): %v", user, ip, err)
		return false
	}
	if wait > 0 {
		return false
	}
	if between != nil {
		between()
	}
	if e.deferred {
		err = store.Do(ctx, e.st, record)
	} else {
		err = e.th.Succeeded(ctx, "/", user, ip)
	}
	if err != nil {
		t.Errorf("record the success of %s, %s: %v", user, ip, err)
	}
	return true
}

// free counts the wrong guesses at user from ip that are allowed before the first
// refusal, up to 50.
func (e *env) free(t *testing.T, user, ip string) int {
	t.Helper()
	for i := range 50 {
		if e.guess(t, user, ip) > 0 {
			return i
		}
	}
	return 50
}

// successWays runs f on each backend twice: with successes recorded by Succeeded, and
// by AllowDeferred's record written after the check, as the engine writes it with the
// flow. Both must give the same throttle.
func successWays(t *testing.T, f func(t *testing.T, newEnv func(cfg throttle.Config) *env)) {
	for _, deferred := range []bool{false, true} {
		name := "Succeeded"
		if deferred {
			name = "deferred"
		}
		t.Run(name, func(t *testing.T) {
			backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
				f(t, func(cfg throttle.Config) *env {
					e := newEnv(cfg)
					e.deferred = deferred
					return e
				})
			})
		})
	}
}

const (
	attacker = "198.51.100.66"
	home     = "203.0.113.5"
)

func TestPairDelaysGrowAndSuccessClears(t *testing.T) {
	successWays(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		for i := range 5 {
			if wait := e.guess(t, "alice", attacker); wait != 0 {
				t.Fatalf("free attempt %d refused (wait %v)", i+1, wait)
			}
		}
		// Each delay is waited out exactly; one second less is refused with the rest.
		for k, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			e.clock.Add(want - time.Second/2)
			if wait := e.guess(t, "alice", attacker); wait != time.Second/2 {
				t.Fatalf("delay %d: early attempt waits %v, want 0.5s", k+1, wait)
			}
			e.clock.Add(time.Second / 2)
			if wait := e.guess(t, "alice", attacker); wait != 0 {
				t.Fatalf("delay %d: attempt after %v refused (wait %v)", k+1, want, wait)
			}
		}
		// The case of the username does not make a new account.
		if wait := e.guess(t, "ALICE", attacker); wait != 16*time.Second {
			t.Errorf("ALICE waits %v, want alice's 16s", wait)
		}
		// The real user, from another address, is not held back.
		if !e.login(t, "alice", home) {
			t.Fatal("the real user from another address was refused")
		}
		// A success clears the (user, address) count: the next mistakes are free again.
		e.clock.Add(16 * time.Second)
		if !e.login(t, "alice", attacker) {
			t.Fatal("right password after the delay refused")
		}
		for i := range 5 {
			if wait := e.guess(t, "alice", attacker); wait != 0 {
				t.Fatalf("after a success, attempt %d refused (wait %v)", i+1, wait)
			}
		}
	})
}

func TestDelayIsCapped(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{PairFree: 1, MaxDelay: 10 * time.Second})
		var last time.Duration
		for range 8 {
			e.clock.Add(last)
			if wait := e.guess(t, "alice", attacker); wait != 0 {
				t.Fatalf("refused after waiting %v (wait %v)", last, wait)
			}
			last = e.guess(t, "alice", attacker)
		}
		if last != 10*time.Second {
			t.Errorf("delay after many failures %v, want the 10s cap", last)
		}
	})
}

func TestWindowForgets(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{Window: time.Hour, MaxDelay: time.Minute})
		for range 5 {
			e.guess(t, "alice", attacker)
		}
		e.clock.Add(time.Second)
		e.guess(t, "alice", attacker)
		// Half a window on, half of the old failures still count: the next is delayed.
		e.clock.Add(30 * time.Minute)
		if wait := e.guess(t, "alice", attacker); wait != 0 {
			t.Fatalf("refused after 30 minutes (wait %v)", wait)
		}
		// Two windows on, nothing counts: five free attempts again.
		e.clock.Add(2 * time.Hour)
		for i := range 5 {
			if wait := e.guess(t, "alice", attacker); wait != 0 {
				t.Fatalf("two windows later, attempt %d refused (wait %v)", i+1, wait)
			}
		}
	})
}

func TestAddressSprayingIsDelayed(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{AddressFree: 10})
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}
		for _, u := range users { // one guess at each of ten accounts
			if wait := e.guess(t, u, attacker); wait != 0 {
				t.Fatalf("guess at %s refused (wait %v)", u, wait)
			}
		}
		if wait := e.guess(t, "u10", attacker); wait != time.Second {
			t.Errorf("eleventh account from the same address waits %v, want 1s", wait)
		}
		if !e.login(t, "u10", home) {
			t.Error("another address is held back by the spraying one")
		}
	})
}

func TestAccountWideDelayNeverLocksOutTheRealUser(t *testing.T) {
	successWays(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{UserFree: 20})
		// The real user signed in from home before.
		if !e.login(t, "alice", home) {
			t.Fatal("first login refused")
		}
		// Four addresses, five free guesses each: twenty failures on the account.
		for a := range 4 {
			ip := "198.51.100." + string(rune('1'+a))
			for range 5 {
				if wait := e.guess(t, "alice", ip); wait != 0 {
					t.Fatalf("free guess from %s refused", ip)
				}
			}
		}
		// A fifth address is now held back account-wide, and that was audited.
		wait := e.guess(t, "alice", "198.51.100.99")
		if wait != time.Second {
			t.Errorf("a new address waits %v, want the first account-wide delay, 1s", wait)
		}
		if n := e.rec.Count(audit.ThrottleUserDelayed); n == 0 {
			t.Error("the account-wide delay was not audited")
		}
		// The real user, from an address they signed in from before, is not.
		if !e.login(t, "alice", home) {
			t.Error("the real user from a known address was refused during the attack")
		}
		// The account-wide delay expires by itself.
		e.clock.Add(wait)
		if w := e.guess(t, "alice", "198.51.100.99"); w != 0 {
			t.Errorf("after the delay, a new address still waits %v", w)
		}
	})
}

func TestOneAddressNeverReachesTheAccountWideThreshold(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		// An attacker guessing as fast as allowed for a whole day.
		start := e.clock.Now()
		var guesses int
		perHour := make([]int, 24)
		for end := start.Add(24 * time.Hour); e.clock.Now().Before(end); {
			wait := e.guess(t, "alice", attacker)
			if wait == 0 {
				guesses++
				perHour[int(e.clock.Now().Sub(start)/time.Hour)]++
				continue
			}
			e.clock.Add(wait)
		}
		t.Logf("one address, one account, one day, defaults: %d guesses checked; per hour %v", guesses, perHour)
		if perHour[0] > 20 || perHour[23] > 2 {
			t.Errorf("guesses per hour %v: want at most 20 in the first hour and 2 in the last", perHour)
		}
		if guesses >= throttle.Defaults.UserFree {
			t.Errorf("%d guesses from one address in a day reach the per-user threshold %d", guesses, throttle.Defaults.UserFree)
		}
		if e.rec.Count(audit.ThrottleUserDelayed) != 0 {
			t.Error("one address set off the account-wide delay")
		}
		// The real user on a new address is let in.
		if !e.login(t, "alice", home) {
			t.Error("the real user from a new address was refused")
		}
	})
}

func TestConcurrentBurstGetsOnlyTheFreeAttempts(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait, err := e.th.Allow(context.Background(), "/", "alice", attacker)
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					allowed.Add(1)
					if err := e.th.Failed(context.Background(), "/", "alice", attacker); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		// Five free, and at most one claiming the first delayed slot.
		if n := allowed.Load(); n < 5 || n > 6 {
			t.Errorf("%d of 40 concurrent guesses checked, want 5 or 6", n)
		}
	})
}

func TestStoreOutageFailsClosed(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		e.st.Down.Store(true)
		ctx := context.Background()
		if _, err := e.th.Allow(ctx, "/", "alice", attacker); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Allow during an outage: %v, want store.ErrUnavailable", err)
		}
		if err := e.th.Failed(ctx, "/", "alice", attacker); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Failed during an outage: %v", err)
		}
		if err := e.th.Succeeded(ctx, "/", "alice", attacker); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Succeeded during an outage: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  throttle.Config
		ok   bool
	}{
		{"zero means defaults", throttle.Config{}, true},
		{"defaults", throttle.Defaults, true},
		{"negative window", throttle.Config{Window: -time.Second}, false},
		{"negative free", throttle.Config{PairFree: -1}, false},
		{"cap below first delay", throttle.Config{BaseDelay: time.Minute, MaxDelay: time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if _, err := throttle.New(nil, tt.cfg, nil, nil); (err == nil) != tt.ok {
				t.Errorf("New() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestAddresses: an IPv6 client is counted by its /64, so hopping within it does not
// give fresh attempts, and a door without client addresses holds nobody back through a
// shared address count.
func TestAddresses(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{AddressFree: 10})
		for i := range 5 {
			if wait := e.guess(t, "alice", "2001:db8:1:2::"+string(rune('a'+i))); wait != 0 {
				t.Fatalf("free guess %d refused", i+1)
			}
		}
		if wait := e.guess(t, "alice", "2001:db8:1:2:ffff::1"); wait != time.Second {
			t.Errorf("another address in the same /64 waits %v, want 1s", wait)
		}
		if wait := e.guess(t, "alice", "2001:db8:1:3::1"); wait != 0 {
			t.Errorf("another /64 waits %v", wait)
		}
		if wait := e.guess(t, "bob", "::ffff:192.0.2.1"); wait != 0 {
			t.Errorf("an IPv4-mapped address waits %v", wait)
		}
		for i := range 12 { // twelve users, no address: no address count to pass
			if wait := e.guess(t, "user"+string(rune('a'+i)), ""); wait != 0 {
				t.Fatalf("guess %d without an address refused (wait %v)", i+1, wait)
			}
		}
	})
}

// TestStoreCallsPerAttempt pins the store calls an attempt costs: a batch each for
// Allow and Succeeded when the address is known, failures to clear or not (Succeeded
// clears the pair blind, with store.OpZero), and a third the first time (the address is
// remembered).
func TestStoreCallsPerAttempt(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counted := storetest.NewCounting(st)
	c := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	th, err := throttle.New(counted, throttle.Config{}, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	attempt := func(ok bool) []storetest.Op {
		t.Helper()
		counted.Reset()
		if wait, err := th.Allow(ctx, "/", "alice", home); err != nil || wait > 0 {
			t.Fatalf("Allow = %v, %v", wait, err)
		}
		report := th.Failed
		if ok {
			report = th.Succeeded
		}
		if err := report(ctx, "/", "alice", home); err != nil {
			t.Fatal(err)
		}
		return counted.Ops()
	}
	for _, tc := range []struct {
		name string
		ok   bool
		want int
	}{
		{"first sign-in from an address", true, 3},
		{"sign-in from a known address", true, 2},
		{"wrong secret within the free failures", false, 2},
		{"sign-in after a failure", true, 2},
		{"sign-in again", true, 2},
	} {
		ops := attempt(tc.ok)
		if len(ops) != tc.want {
			t.Errorf("%s: %d store calls, want %d: %v", tc.name, len(ops), tc.want, ops)
		}
		for _, op := range ops {
			if op.Name != "Do" {
				t.Errorf("%s: a %s outside a batch: %v", tc.name, op.Name, ops)
			}
		}
	}
}

// TestAllowWithCarriesReads: the caller's reads go in the batch that counts the
// attempt, allowed or refused, with their results recorded in them, and change nothing
// of what Allow decides.
func TestAllowWithCarriesReads(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		ctx := context.Background()
		if _, err := e.st.Set(ctx, "user:{/}:alice", []byte("account"), 0); err != nil {
			t.Fatal(err)
		}
		read := func() (time.Duration, []store.Op) {
			t.Helper()
			reads := []store.Op{store.GetOp("user:{/}:alice"), store.GetOp("user:{/}:nobody")}
			wait, err := e.th.AllowWith(ctx, "/", "alice", attacker, reads)
			if err != nil {
				t.Fatal(err)
			}
			if string(reads[0].Item.Value) != "account" || reads[0].Err != nil || !errors.Is(reads[1].Err, store.ErrNotFound) {
				t.Fatalf("reads after AllowWith: %+v", reads)
			}
			return wait, reads
		}
		for i := range 5 {
			wait, _ := read()
			if wait != 0 {
				t.Fatalf("free attempt %d refused (wait %v)", i+1, wait)
			}
			if err := e.th.Failed(ctx, "/", "alice", attacker); err != nil {
				t.Fatal(err)
			}
		}
		// Refused now, as Allow would be, and the reads still ran.
		if wait, _ := read(); wait <= 0 {
			t.Fatal("the sixth guess in a row was allowed")
		}
		if wait := e.guess(t, "alice", attacker); wait <= 0 {
			t.Fatal("Allow disagrees with AllowWith")
		}
	})
}

// TestSuccessRecord: a right secret, recorded by Succeeded or by AllowDeferred's record
// written after the check (as the engine writes it with the flow), clears the pair of
// the failures counted before it and of those counted while it was checked, clears the
// pair's deadline, even one claimed after the check, takes the attempt back from the
// address and user counts so that successes cost nothing there, and remembers the
// address as one the user signs in from.
func TestSuccessRecord(t *testing.T) {
	guesses := func(n int, user, ip string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			for range n {
				e.guess(t, user, ip)
			}
		}
	}
	// pairClear reports a pair of alice from home that has not its 5 free guesses back.
	pairClear := func(t *testing.T, e *env) string {
		if n := e.free(t, "alice", home); n != 5 {
			return fmt.Sprintf("%d free guesses after the success, want the 5 of a clear pair", n)
		}
		return ""
	}
	for _, tc := range []struct {
		name string
		cfg  throttle.Config
		// before runs before the login, between while it is checked; then the login
		// of alice from home must be allowed, and probe reports what is wrong after it.
		before, between func(t *testing.T, e *env)
		probe           func(t *testing.T, e *env) string
	}{
		{
			name:   "failures before it cleared",
			before: guesses(4, "alice", home),
			probe:  pairClear,
		},
		{
			name:    "failures while it was checked cleared",
			before:  guesses(2, "alice", home),
			between: guesses(3, "alice", home),
			probe:   pairClear,
		},
		{
			name:   "a deadline claimed while it was checked cleared",
			before: guesses(4, "alice", home),
			// The check made the fifth attempt; this sixth claims the pair's deadline
			// and its failure sets the next.
			between: guesses(1, "alice", home),
			probe: func(t *testing.T, e *env) string {
				if wait := e.guess(t, "alice", home); wait != 0 {
					return fmt.Sprintf("the next guess waits %v: the pair's deadline outlived the success", wait)
				}
				return ""
			},
		},
		{
			name: "address and user counts net zero",
			cfg:  throttle.Config{AddressFree: 3, UserFree: 3},
			before: func(t *testing.T, e *env) {
				for i := range 10 { // ten successes of others from home, ten of alice from elsewhere
					if !e.login(t, fmt.Sprintf("user%d", i), home) || !e.login(t, "alice", fmt.Sprintf("192.0.2.%d", i+1)) {
						t.Fatalf("sign-in %d refused", i)
					}
				}
			},
			probe: func(t *testing.T, e *env) string {
				n := 0 // failures of new users from home until the address is delayed
				for ; n < 20 && e.guess(t, fmt.Sprintf("other%d", n), home) == 0; n++ {
				}
				m := 0 // failures at alice from new addresses until the account is
				for ; m < 20 && e.guess(t, "alice", fmt.Sprintf("198.51.100.%d", m+1)) == 0; m++ {
				}
				if n != 3 || m != 3 {
					return fmt.Sprintf("free failures per address %d and per user %d after 21 successes, want 3 and 3 (the successes counted)", n, m)
				}
				return ""
			},
		},
		{
			name: "known address remembered",
			cfg:  throttle.Config{UserFree: 2},
			probe: func(t *testing.T, e *env) string {
				for i := range 3 { // the account is delayed by guesses from elsewhere
					e.guess(t, "alice", fmt.Sprintf("198.51.100.%d", i+1))
				}
				if e.guess(t, "alice", "198.51.100.99") == 0 {
					return "the account-wide delay does not hold an unknown address"
				}
				if !e.login(t, "alice", home) {
					return "the address alice signed in from is held by the account-wide delay"
				}
				return ""
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			successWays(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
				e := newEnv(tc.cfg)
				if tc.before != nil {
					tc.before(t, e)
				}
				var between func()
				if tc.between != nil {
					between = func() { tc.between(t, e) }
				}
				if !e.loginWith(t, "alice", home, between) {
					t.Fatal("the right password was refused")
				}
				if msg := tc.probe(t, e); msg != "" {
					t.Error(msg)
				}
			})
		})
	}
}

// TestOverlappingSuccessesOfOnePair: sign-ins of one user from one address that
// overlap, checked two at a time while up to five are unrecorded (the pair's free
// attempts), are all allowed, however many follow, and leave the pair clear: a success
// clears what the pair holds when its record lands. The blind record this replaces
// (each check's count subtracted, a count below zero added back) swung the count
// further with each overlap, past the free attempts, where the second of two checks
// finds the deadline the first claimed and is refused: 10 to 40 % of arbor bench's
// logins were.
func TestOverlappingSuccessesOfOnePair(t *testing.T) {
	successWays(t, func(t *testing.T, newEnv func(throttle.Config) *env) {
		e := newEnv(throttle.Config{})
		ctx := context.Background()
		const inFlight, logins = 5, 200
		var pending [][]store.Op // the records not yet written, oldest first
		record := func() {
			if e.deferred {
				if err := store.Do(ctx, e.st, pending[0]); err != nil {
					t.Fatal(err)
				}
			} else if err := e.th.Succeeded(ctx, "/", "alice", home); err != nil {
				t.Fatal(err)
			}
			pending = pending[1:]
		}
		for i := range logins {
			var (
				rec  []store.Op
				wait time.Duration
				err  error
			)
			if e.deferred {
				rec, wait, err = e.th.AllowDeferred(ctx, "/", "alice", home, nil)
			} else {
				wait, err = e.th.Allow(ctx, "/", "alice", home)
			}
			if err != nil {
				t.Fatal(err)
			}
			if wait > 0 {
				t.Fatalf("sign-in %d of %d overlapping ones refused (wait %v)", i+1, logins, wait)
			}
			pending = append(pending, rec)
			// Checks and records land two at a time, as a pipelining client sends them.
			for i%2 == 1 && len(pending) > inFlight-2 {
				record()
			}
		}
		for len(pending) > 0 {
			record()
		}
		if n := e.free(t, "alice", home); n != 5 {
			t.Errorf("%d free guesses after the sign-ins, want the 5 of a clear pair", n)
		}
	})
}

// TestDeferredRecordCostsNoCall: the check of a right secret is the only store call of
// a deferred success, and its record is nothing but writes (no Get, no read Incr),
// with empty room for the batch it rides in.
func TestDeferredRecordCostsNoCall(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counted := storetest.NewCounting(st)
	c := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	th, err := throttle.New(counted, throttle.Config{}, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The pair's two counts zeroed and its deadline deleted, the attempt taken back from
	// the address and the user, and at first the known-address mark.
	for i, wantOps := range []int{6, 5} {
		counted.Reset()
		rec, wait, err := th.AllowDeferred(ctx, "/", "alice", home, nil)
		if err != nil || wait > 0 {
			t.Fatalf("AllowDeferred = %v, %v", wait, err)
		}
		if ops := counted.Ops(); len(ops) != 1 || ops[0].Name != "Do" {
			t.Errorf("sign-in %d: store calls %v, want the one batch", i+1, ops)
		}
		if len(rec) != wantOps {
			t.Errorf("sign-in %d: %d writes in the record, want %d: %+v", i+1, len(rec), wantOps, rec)
		}
		// Room for the batch it rides in (a session's two ops and the flow's write),
		// empty, so that the flow's end appends without copying the batch and the
		// check's reads are not kept alive in it.
		if room := cap(rec) - len(rec); room < 3 {
			t.Errorf("sign-in %d: the record has room for %d more ops, want 3", i+1, room)
		}
		for _, op := range rec[len(rec):cap(rec)] {
			if op.Key != "" || op.Item.Value != nil {
				t.Errorf("sign-in %d: the record's spare room holds %+v", i+1, op)
			}
		}
		for _, op := range rec {
			if op.Kind == store.OpGet || (op.Kind == store.OpIncr && op.Delta == 0) {
				t.Errorf("sign-in %d: the record reads: %+v", i+1, op)
			}
		}
		if err := store.Do(ctx, counted, rec); err != nil {
			t.Fatal(err)
		}
	}
}

// applyThenFail runs every batch on its store and then reports an outage, as a Redis
// Cluster that lost one master does: the ops on the other masters took effect.
type applyThenFail struct{ store.Store }

func (s applyThenFail) Do(ctx context.Context, ops []store.Op) error {
	if err := store.Do(ctx, s.Store, ops); err != nil {
		return err
	}
	return fmt.Errorf("one node of the batch: %w", store.ErrUnavailable)
}

// TestFailedCheckTakesItsCountsBack: a check whose batch failed verified nothing, so
// the counts it may have left are taken back; a client retrying its step through an
// outage is not refused once the store is back (TestFailoverMidJourney caught this).
func TestFailedCheckTakesItsCountsBack(t *testing.T) {
	raw, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	ctx := context.Background()
	broken, err := throttle.New(applyThenFail{raw}, throttle.Config{}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := broken.Allow(ctx, "/", "alice", "198.51.100.7"); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("check %d through a failing batch: %v, want store.ErrUnavailable", i, err)
		}
	}
	th, err := throttle.New(raw, throttle.Config{}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if wait, err := th.Allow(ctx, "/", "alice", "198.51.100.7"); err != nil || wait != 0 {
			t.Fatalf("check %d once the store is back: wait %v, %v; want allowed (the failed checks left counts)", i, wait, err)
		}
	}
}
