package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/internal/testwait"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestMain stops the Redis Cluster the quota test shares with other packages' tests.
func TestMain(m *testing.M) { testredis.Main(m) }

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newManager(t *testing.T) (*Manager, store.Store, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	clk.ns.Store(time.Now().UnixNano())
	st, err := embedded.Open(embedded.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour, Now: clk.Now}), st, clk
}

func TestCreateValidateLogout(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	tok, s, err := m.Create(ctx, "alice", "/", "login", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 40 || s.Handle == "" || strings.Contains(tok, s.Handle) {
		t.Fatalf("token %q handle %q", tok, s.Handle)
	}
	got, err := m.Validate(ctx, tok)
	if err != nil || got.Username != "alice" || got.Realm != "/" || got.Props["k"] != "v" {
		t.Fatalf("validate: %+v %v", got, err)
	}
	if _, err := m.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("validate after logout: %v", err)
	}
	if _, err := m.Logout(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second logout: %v", err)
	}
}

func TestBadTokens(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	for _, tok := range []string{"", "   ", "nope", strings.Repeat("a", 200)} {
		if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %v", tok, err)
		}
		if _, err := m.Refresh(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Refresh(%q) = %v", tok, err)
		}
	}
}

func TestIdleAndMaxLifetime(t *testing.T) {
	m, _, clk := newManager(t)
	ctx := context.Background()
	tok, _, _ := m.Create(ctx, "alice", "/", "login", nil)
	// Refreshing every 9 minutes keeps the session past its idle timeout...
	for i := 0; i < 6; i++ {
		clk.Advance(9 * time.Minute)
		if _, err := m.Refresh(ctx, tok); err != nil {
			t.Fatalf("refresh %d at %d min: %v", i, (i+1)*9, err)
		}
	}
	// ...but never past its maximum lifetime (an hour).
	clk.Advance(7 * time.Minute)
	if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("session outlived its maximum lifetime: %v", err)
	}
	tok2, _, _ := m.Create(ctx, "bob", "/", "login", nil)
	clk.Advance(11 * time.Minute)
	if _, err := m.Validate(ctx, tok2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("idle session still valid: %v", err)
	}
}

func TestValidateDoesNotExtend(t *testing.T) {
	m, _, clk := newManager(t)
	ctx := context.Background()
	tok, _, _ := m.Create(ctx, "alice", "/", "login", nil)
	clk.Advance(6 * time.Minute)
	m.Validate(ctx, tok)
	clk.Advance(6 * time.Minute)
	if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatal("Validate extended the idle timeout")
	}
}

func TestTokenNotStoredInClear(t *testing.T) {
	m, st, _ := newManager(t)
	ctx := context.Background()
	tok, _, _ := m.Create(ctx, "alice", "/", "login", nil)
	if _, err := st.Get(ctx, "session:{"+tok+"}"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("the token is usable as a store key")
	}
	it, err := st.Get(ctx, key(tok))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(it.Value), tok) {
		t.Fatal("the stored session contains its token")
	}
}

func TestConcurrentLogoutOnce(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	tok, _, _ := m.Create(ctx, "alice", "/", "login", nil)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Logout(ctx, tok); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d logouts succeeded", ok.Load())
	}
}

func TestIndexListEndAllAndQuota(t *testing.T) {
	m, _, clk := newManager(t)
	ctx := context.Background()
	var toks []string
	var handles []string
	for i := 0; i < 3; i++ {
		tok, s, err := m.Grant(ctx, Grant{Username: "Alice", Realm: "/", Journey: "login"})
		if err != nil {
			t.Fatal(err)
		}
		toks, handles = append(toks, tok), append(handles, s.Handle)
		clk.Advance(time.Second)
	}
	if _, _, err := m.Grant(ctx, Grant{Username: "bob", Realm: "/", Journey: "login"}); err != nil {
		t.Fatal(err)
	}
	list, err := m.List(ctx, "/", "alice")
	if err != nil || len(list) != 3 || list[0].Handle != handles[0] {
		t.Fatalf("list: %v %v", list, err)
	}
	// A logged-out session drops out of the list.
	if _, err := m.Logout(ctx, toks[0]); err != nil {
		t.Fatal(err)
	}
	if list, _ := m.List(ctx, "/", "alice"); len(list) != 2 {
		t.Fatalf("after a logout: %d sessions", len(list))
	}
	// End all others: only the kept one validates; the logged-out one is not counted.
	n, err := m.EndAll(ctx, "/", "ALICE", handles[2])
	if err != nil || n != 1 {
		t.Fatalf("EndAll: %d %v", n, err)
	}
	if _, err := m.Validate(ctx, toks[1]); !errors.Is(err, ErrInvalid) {
		t.Fatal("an ended session still validates")
	}
	if _, err := m.Validate(ctx, toks[2]); err != nil {
		t.Fatalf("the kept session: %v", err)
	}
	if list, _ := m.List(ctx, "/", "bob"); len(list) != 1 {
		t.Fatal("another user's session was touched")
	}
	// The quota ends the oldest.
	first := toks[2]
	for i := 0; i < MaxPerUser; i++ {
		if _, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Validate(ctx, first); !errors.Is(err, ErrInvalid) {
		t.Fatal("the oldest session survived the per-user quota")
	}
	if list, _ := m.List(ctx, "/", "alice"); len(list) != MaxPerUser {
		t.Fatalf("%d sessions listed, want %d", len(list), MaxPerUser)
	}
}

func TestLogoutFreesItsPlaceInTheQuota(t *testing.T) {
	m, st, clk := newManager(t)
	ctx := context.Background()
	keep, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxPerUser; i++ {
		clk.Advance(time.Second)
		tok, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Validate(ctx, keep); err != nil {
		t.Fatalf("the one live session was ended by sessions already logged out: %v", err)
	}
	it, err := st.Get(ctx, indexKey("/", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if list, err := decodeIndex(it.Value); err != nil || len(list) != 1 {
		t.Fatalf("index after %d logins and logouts: %v %v, want the live session alone", MaxPerUser, list, err)
	}
}

func TestIndexConcurrentGrants(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if list, err := m.List(ctx, "/", "alice"); err != nil || len(list) != 8 {
		t.Fatalf("%d sessions indexed after 8 concurrent logins: %v", len(list), err)
	}
}

// TestEndAllWithoutChangeWritesNothing: ending the sessions of a user who has none, or
// keeping the only one, leaves the index untouched (no write, same revision).
func TestEndAllWithoutChangeWritesNothing(t *testing.T) {
	m, st, _ := newManager(t)
	ctx := context.Background()
	if n, err := m.EndAll(ctx, "/", "nobody", ""); n != 0 || err != nil {
		t.Fatalf("EndAll of nobody: %d %v", n, err)
	}
	if _, err := st.Get(ctx, indexKey("/", "nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an index was written for nobody: %v", err)
	}
	_, s, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.Get(ctx, indexKey("/", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.EndAll(ctx, "/", "alice", s.Handle); n != 0 || err != nil {
		t.Fatalf("EndAll keeping the only session: %d %v", n, err)
	}
	if after, err := st.Get(ctx, indexKey("/", "alice")); err != nil || after.Rev != before.Rev {
		t.Fatalf("the index was rewritten: rev %d -> %v %v", before.Rev, after, err)
	}
}

// TestGrantStoreCalls pins a login's session cost: one batch creating the session and
// pushing its entry onto the user's index (no read, no compare-and-swap loop), which
// also ends the oldest session once the user has MaxPerUser: no second call.
func TestGrantStoreCalls(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counted := storetest.NewCounting(st)
	m := New(counted, Config{})
	ctx := context.Background()
	for i := range MaxPerUser + 2 {
		counted.Reset()
		if _, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/", Journey: "login"}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(callNames(counted), " "); got != "Do" {
			t.Errorf("grant %d: store calls %q, want %q", i+1, got, "Do")
		}
		if first := counted.Ops()[0].Key; !strings.HasPrefix(first, "CAS session:{") || !strings.Contains(first, " Push "+indexKey("/", "alice")) {
			t.Errorf("grant %d: first batch %q, want the session's CAS and the index's Push", i+1, first)
		}
	}
	if list, err := m.List(ctx, "/", "alice"); err != nil || len(list) != MaxPerUser {
		t.Errorf("List = %d sessions, %v; want %d", len(list), err, MaxPerUser)
	}
}

// callNames returns the names of the calls counted records.
func callNames(counted *storetest.Counting) []string {
	var out []string
	for _, op := range counted.Ops() {
		out = append(out, op.Name)
	}
	return out
}

// TestQuotaEndsTheOldestAtOnce: at the per-user quota, a login's own batch ends the
// user's oldest session, which stops validating at once, on every store: in the index's
// push on the embedded store and a single Redis (one call), and on a Redis Cluster,
// whose push cannot reach the session's slot, in a second batch of Finish's. A login
// that is undone (its flow lost the race) still ends the session its push dropped.
func TestQuotaEndsTheOldestAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
		// calls are a grant's store calls at the quota.
		calls string
	}{
		{"embedded", func(t *testing.T) store.Store {
			st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}, "Do"},
		{"redis", func(t *testing.T) store.Store { return openRedis(t, testredis.Start(t).URL()) }, "Do"},
		{"redis cluster", func(t *testing.T) store.Store { return openRedis(t, testredis.SharedCluster(t).URL()) }, "Do Do"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			t.Cleanup(func() { st.Close() })
			counted := storetest.NewCounting(st)
			m := New(counted, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour})
			ctx := context.Background()
			var toks []string
			for range MaxPerUser {
				tok, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
				if err != nil {
					t.Fatal(err)
				}
				toks = append(toks, tok)
			}
			counted.Reset()
			tok, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(callNames(counted), " "); got != tc.calls {
				t.Errorf("grant at the quota: store calls %q (%v), want %q", got, counted.Ops(), tc.calls)
			}
			if _, err := m.Validate(ctx, toks[0]); !errors.Is(err, ErrInvalid) {
				t.Errorf("the oldest session after the grant at the quota: %v, want ErrInvalid", err)
			}
			for _, tk := range append(toks[1:], tok) {
				if _, err := m.Validate(ctx, tk); err != nil {
					t.Fatalf("a session within the quota: %v", err)
				}
			}

			// A login that lost its race is undone: its session goes, and so does the
			// one its push dropped from the index.
			p, err := m.Prepare(Grant{Username: "alice", Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Do(ctx, counted, p.Ops()); err != nil {
				t.Fatal(err)
			}
			p.Undo(ctx)
			for i, tk := range []string{toks[1], p.Token} {
				if _, err := m.Validate(ctx, tk); !errors.Is(err, ErrInvalid) {
					t.Errorf("session %d after an undone grant at the quota: %v, want ErrInvalid", i, err)
				}
			}
			if _, err := m.Validate(ctx, toks[2]); err != nil {
				t.Errorf("the next oldest session after an undone grant: %v", err)
			}
		})
	}
}

// openRedis opens a Redis store with a key space of its own at url.
func openRedis(t *testing.T, url string) store.Store {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	st, err := redisstore.Open(url, redisstore.WithPrefix("sessions-test-"+hex.EncodeToString(b[:])+":"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOwnLifetimes: a session granted with its own lifetimes keeps them through
// refreshes and the store round trip; a fixed one (both the same) never outlives it.
func TestOwnLifetimes(t *testing.T) {
	m, _, clk := newManager(t)
	ctx := context.Background()
	fixed, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/", IdleTimeout: 5 * time.Minute, MaxLifetime: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	idle, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/", IdleTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	long, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/", MaxLifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Validate(ctx, long); !s.MaxEnd.Equal(s.Created.Add(time.Hour)) {
		t.Errorf("a lifetime past the Manager's was granted: %v", s.MaxEnd.Sub(s.Created))
	}
	clk.Advance(90 * time.Second)
	if s, err := m.Refresh(ctx, idle); err != nil || !s.IdleEnd.Equal(s.Access.Add(2*time.Minute)) {
		t.Fatalf("refresh of own idle timeout: %+v %v", s, err)
	}
	if _, err := m.Refresh(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Minute) // 5m30s after login; the idle session was refreshed 4 minutes ago
	if _, err := m.Validate(ctx, fixed); !errors.Is(err, ErrInvalid) {
		t.Errorf("fixed session outlived its 5 minutes: %v", err)
	}
	if _, err := m.Validate(ctx, idle); !errors.Is(err, ErrInvalid) {
		t.Errorf("session outlived its 2 minutes idle: %v", err)
	}
}

func TestRenew(t *testing.T) {
	m, _, clk := newManager(t)
	ctx := context.Background()
	tok, s0, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/", Factors: []string{"pwd"}, Level: 10,
		IdleTimeout: 5 * time.Minute, MaxLifetime: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Minute)
	fresh, s, err := m.Renew(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == tok || s.Handle != s0.Handle || s.Level != 10 || !s.Created.Equal(s0.Created) || !s.MaxEnd.Equal(s.Access.Add(5*time.Minute)) {
		t.Errorf("renewed %+v from %+v", s, s0)
	}
	if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("old token after renewal: %v", err)
	}
	if _, _, err := m.Renew(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("renewal of the old token: %v", err)
	}
	clk.Advance(4 * time.Minute) // past the first 5 minutes, within the renewed ones
	if _, err := m.Validate(ctx, fresh); err != nil {
		t.Errorf("renewed token: %v", err)
	}
	// The user's index knows the new token: ending all sessions ends it.
	if n, err := m.EndAll(ctx, "/", "alice", ""); err != nil || n != 1 {
		t.Errorf("EndAll: %d %v", n, err)
	}
	if _, err := m.Validate(ctx, fresh); !errors.Is(err, ErrInvalid) {
		t.Errorf("renewed token after EndAll: %v", err)
	}

	// Renewals never go past the Manager's lifetime from the login.
	tok, _, _ = m.Grant(ctx, Grant{Username: "bob", Realm: "/", IdleTimeout: 30 * time.Minute, MaxLifetime: 30 * time.Minute})
	clk.Advance(25 * time.Minute)
	if tok, s, err = m.Renew(ctx, tok); err != nil || !s.MaxEnd.Equal(s.Access.Add(30*time.Minute)) {
		t.Fatalf("first renewal: %+v %v", s, err)
	}
	clk.Advance(25 * time.Minute)
	if _, s, err = m.Renew(ctx, tok); err != nil || !s.MaxEnd.Equal(s.Created.Add(time.Hour)) {
		t.Errorf("renewal near the end: %+v %v", s, err)
	}

	// Concurrent renewals of one token: exactly one wins.
	tok, _, _ = m.Grant(ctx, Grant{Username: "carol", Realm: "/"})
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := m.Renew(ctx, tok); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("renew: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d renewals won", wins.Load())
	}
}

// TestEndOne: a session ends by its handle, only for its own user; the others stay.
func TestEndOne(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	var toks, handles []string
	for range 2 {
		tok, s, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
		if err != nil {
			t.Fatal(err)
		}
		toks, handles = append(toks, tok), append(handles, s.Handle)
	}
	bobTok, bob, err := m.Grant(ctx, Grant{Username: "bob", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, handle string
		ended              bool
	}{
		{"another user's handle", "alice", bob.Handle, false},
		{"no handle", "alice", "", false},
		{"an unknown handle", "alice", "nope", false},
		{"in another realm", "alice", handles[0], false},
		{"its own", "Alice", handles[0], true},
		{"already ended", "alice", handles[0], false},
	}
	for _, tc := range tests {
		realm := "/"
		if tc.name == "in another realm" {
			realm = "/alpha"
		}
		if ended, err := m.End(ctx, realm, tc.user, tc.handle); err != nil || ended != tc.ended {
			t.Errorf("%s: ended %v, %v; want %v", tc.name, ended, err, tc.ended)
		}
	}
	if _, err := m.Validate(ctx, toks[0]); !errors.Is(err, ErrInvalid) {
		t.Error("the ended session still validates")
	}
	for _, tok := range []string{toks[1], bobTok} {
		if _, err := m.Validate(ctx, tok); err != nil {
			t.Errorf("a session that was not ended: %v", err)
		}
	}
}

// TestIndexMembers: an index member is the handle and the record's key, as indexes
// stored before the index owned its keys already wrote them, and a member that is not
// one is refused rather than misread.
func TestIndexMembers(t *testing.T) {
	e := indexEntry{Handle: "0a1b", Key: "session:{ff00}"}
	if got := string(e.member()); got != "0a1b session:{ff00}" {
		t.Fatalf("member = %q", got)
	}
	for _, tc := range []struct {
		member string
		want   indexEntry
		ok     bool
	}{
		{"0a1b session:{ff00}", indexEntry{Handle: "0a1b", Key: "session:{ff00}"}, true},
		{"nokey", indexEntry{}, false},
		{"h ", indexEntry{}, false},
		{" session:{ff00}", indexEntry{}, false},
		{"two words session:{ff00}", indexEntry{}, false},
	} {
		got, ok := parseMember([]byte(tc.member))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseMember(%q) = %+v, %v; want %+v, %v", tc.member, got, ok, tc.want, tc.ok)
		}
	}
}

// TestUndoRetriesThroughAnOutage: a session whose batch landed and whose Undo found
// the store down is deleted once the store is back (a Redis master can apply the write
// and die before it answers), and a retry ends when the record would have expired.
func TestUndoRetriesThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	_, st, clk := newManager(t)
	flaky := storetest.NewFlaky(st)
	m := New(flaky, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour, Now: clk.Now})
	stored := func(p *Pending) bool {
		_, err := st.Get(ctx, key(p.Token))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	grant := func() *Pending {
		p, err := m.Prepare(Grant{Username: "alice", Realm: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Do(ctx, flaky, p.Ops()); err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := grant()
	flaky.Down.Store(true)
	p.Undo(ctx)
	time.Sleep(200 * time.Millisecond)
	if !stored(p) {
		t.Fatal("the session went while the store was down")
	}
	flaky.Down.Store(false)
	testwait.Until(t, "the undone session deleted once the store is back", func() bool { return !stored(p) })
	testwait.Until(t, "the retry's slot given back", func() bool { return len(m.undoing) == 0 })

	p = grant()
	flaky.Down.Store(true)
	p.Undo(ctx)
	if len(m.undoing) != 1 {
		t.Fatalf("%d retries running, want 1", len(m.undoing))
	}
	clk.Advance(11 * time.Minute) // past the record's idle expiry
	testwait.Until(t, "the retry ends when the record would have expired", func() bool { return len(m.undoing) == 0 })
	flaky.Down.Store(false)
}

// clusterLike runs batches as a Redis Cluster does by store.OpPush's contract: a push
// that owns its members' keys leaves the dropped ones for the caller to delete and
// reports KeysDeleted false.
type clusterLike struct{ *storetest.Flaky }

func (c clusterLike) Do(ctx context.Context, ops []store.Op) error {
	owns := make([]bool, len(ops))
	for i := range ops {
		owns[i], ops[i].OwnsKeys = ops[i].OwnsKeys, false
	}
	err := c.Flaky.Do(ctx, ops)
	for i := range ops {
		ops[i].OwnsKeys, ops[i].KeysDeleted = owns[i], false
	}
	return err
}

func TestUndoRetriesTheDroppedSessionsThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	_, st, clk := newManager(t)
	flaky := storetest.NewFlaky(st)
	cl := clusterLike{flaky}
	m := New(cl, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour, Now: clk.Now})
	oldest, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < MaxPerUser; i++ {
		clk.Advance(time.Second)
		if _, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() bool {
		_, err := st.Get(ctx, key(oldest))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	// A login past the quota: its push dropped the oldest from the index and left its
	// record (as a Cluster does); the login then failed and is undone while the store
	// is down.
	p, err := m.Prepare(Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	ops := p.Ops()
	if err := store.Do(ctx, cl, ops); err != nil {
		t.Fatal(err)
	}
	if len(ops[1].Dropped) != 1 || ops[1].KeysDeleted || !stored() {
		t.Fatalf("the push dropped %q (keys deleted %v, oldest stored %v), want the oldest left behind", ops[1].Dropped, ops[1].KeysDeleted, stored())
	}
	flaky.Down.Store(true)
	p.Undo(ctx)
	time.Sleep(200 * time.Millisecond)
	if !stored() {
		t.Fatal("the dropped session went while the store was down")
	}
	flaky.Down.Store(false)
	testwait.Until(t, "the session dropped from the index deleted once the store is back", func() bool { return !stored() })
	testwait.Until(t, "the retries' slots given back", func() bool { return len(m.undoing) == 0 })
}

// indexEntryOf returns the entry of the session at k in alice's index, read from st.
func indexEntryOf(t *testing.T, st store.Store, k string) (indexEntry, bool) {
	t.Helper()
	it, err := st.Get(context.Background(), indexKey("/", "alice"))
	if errors.Is(err, store.ErrNotFound) {
		return indexEntry{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	list, err := decodeIndex(it.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Key == k {
			return e, true
		}
	}
	return indexEntry{}, false
}

// TestIdledOutSessionsLeaveTheQuota: sessions abandoned without a logout leave the
// user's index one idle timeout after they idle out, not at their maximum lifetime, so
// a script that logs in every minute and never out does not push out the user's live
// session (with entries lasting to MaxEnd, the 33rd login ended it).
func TestIdledOutSessionsLeaveTheQuota(t *testing.T) {
	m, st, clk := newManager(t) // idle 10 minutes, lifetime 1 hour
	ctx := context.Background()
	live, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	const logins = 40
	for i := range logins {
		clk.Advance(time.Minute)
		if _, err := m.Refresh(ctx, live); err != nil {
			t.Fatalf("minute %d: the live session: %v", i+1, err)
		}
		if _, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	it, err := st.Get(ctx, indexKey("/", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := decodeIndex(it.Value)
	if err != nil {
		t.Fatal(err)
	}
	// An abandoned session's entry lasts its 10 idle minutes and 10 more: the last 20
	// logins' entries, and the live session's.
	if len(entries) != 21 {
		t.Errorf("%d index entries after %d logins a minute apart, want 21", len(entries), logins)
	}
	if list, err := m.List(ctx, "/", "alice"); err != nil || len(list) != 11 {
		t.Errorf("List = %d sessions, %v; want the live one and the last 10 logins'", len(list), err)
	}
}

// TestLeaseCoversTheRecord: a refreshed session's index entry always outlives its
// record, so EndAll reaches it however long it is kept alive, and the entry is rewritten
// only when the idle end would pass it: once per idle timeout of activity.
func TestLeaseCoversTheRecord(t *testing.T) {
	_, st, clk := newManager(t)
	counted := storetest.NewCounting(st)
	m := New(counted, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour, Now: clk.Now})
	ctx := context.Background()
	tok, _, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	k := key(tok)
	indexWrites := 0
	for minute := 1; minute <= 59; minute++ {
		clk.Advance(time.Minute)
		counted.Reset()
		s, err := m.Refresh(ctx, tok)
		if err != nil {
			t.Fatalf("minute %d: %v", minute, err)
		}
		for _, op := range counted.Ops() {
			if op.Name == "CAS" && op.Key == indexKey("/", "alice") {
				indexWrites++
			}
		}
		e, ok := indexEntryOf(t, st, k)
		if !ok {
			t.Fatalf("minute %d: the session left its index", minute)
		}
		if e.Until < expiry(s).UnixMilli() || e.Until != s.Listed {
			t.Fatalf("minute %d: entry until %d, session listed %d, record expires %d", minute, e.Until, s.Listed, expiry(s).UnixMilli())
		}
	}
	// The lease starts 20 minutes out and is extended at minutes 11, 22, 33 and 44; from
	// then on it is the session's MaxEnd.
	if indexWrites != 4 {
		t.Errorf("%d index writes in 59 refreshes a minute apart, want 4", indexWrites)
	}
	if n, err := m.EndAll(ctx, "/", "alice", ""); err != nil || n != 1 {
		t.Fatalf("EndAll = %d, %v", n, err)
	}
	if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("validate after EndAll: %v", err)
	}
}

// TestRefreshStaysWithinALostEntry: a session whose entry is gone from the index (the
// index was lost or rebuilt) is not extended past its lease, so it cannot live on where
// EndAll cannot reach it.
func TestRefreshStaysWithinALostEntry(t *testing.T) {
	m, st, clk := newManager(t)
	ctx := context.Background()
	tok, s, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	lease := time.UnixMilli(s.Listed)
	if err := st.Delete(ctx, indexKey("/", "alice")); err != nil {
		t.Fatal(err)
	}
	for clk.Now().Add(time.Minute).Before(lease) {
		clk.Advance(time.Minute)
		s, err := m.Refresh(ctx, tok)
		if err != nil {
			t.Fatalf("%v before the lease: %v", lease.Sub(clk.Now()), err)
		}
		if s.IdleEnd.After(lease) {
			t.Fatalf("refreshed past the lease: idle end %v, lease %v", s.IdleEnd, lease)
		}
	}
	clk.Advance(time.Minute)
	if _, err := m.Refresh(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("refresh past the lease of an entry the index lost: %v", err)
	}
}

// indexDown is a store whose user session indexes cannot be reached, as when the Redis
// Cluster master holding one is down while the session's is up.
type indexDown struct{ store.Store }

func (s indexDown) Get(ctx context.Context, k string) (store.Item, error) {
	if strings.HasPrefix(k, "usersessions:") {
		return store.Item{}, store.ErrUnavailable
	}
	return s.Store.Get(ctx, k)
}

// TestRefreshNeedingTheIndexFailsWithIt: a refresh that must extend the lease fails
// while the index cannot be reached, changes nothing, and succeeds once it can.
func TestRefreshNeedingTheIndexFailsWithIt(t *testing.T) {
	m, st, clk := newManager(t)
	ctx := context.Background()
	tok, s, err := m.Grant(ctx, Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	down := New(indexDown{st}, Config{IdleTimeout: 10 * time.Minute, MaxLifetime: time.Hour, Now: clk.Now})
	clk.Advance(5 * time.Minute)
	if _, err := down.Refresh(ctx, tok); err != nil { // within the lease: no index needed
		t.Fatal(err)
	}
	clk.Advance(6 * time.Minute)
	before, _ := st.Get(ctx, key(tok))
	if _, err := down.Refresh(ctx, tok); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("refresh past the lease with the index down: %v", err)
	}
	if after, _ := st.Get(ctx, key(tok)); after.Rev != before.Rev {
		t.Fatal("the failed refresh wrote the session")
	}
	got, err := m.Refresh(ctx, tok)
	if err != nil || got.Listed <= s.Listed {
		t.Fatalf("refresh with the index back: listed %d (was %d), %v", got.Listed, s.Listed, err)
	}
}
