package api_test

import (
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// manualClock is the app's clock in these tests: time moves only when told to, so no
// test sleeps for a delay to pass.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newThrottledApp builds the whole server with the default guessing defence, behind a
// trusted proxy (loopback) so the tests can speak from several client addresses, on a
// manual clock.
func newThrottledApp(t *testing.T) (*apptest.Server, *manualClock, *audit.Recorder) {
	t.Helper()
	clock := &manualClock{t: time.Now().UTC()}
	srv := apptest.Start(t, apptest.Options{Args: []string{"--trusted-proxies", "127.0.0.0/8,::1"}, Now: clock.Now})
	rec := &audit.Recorder{}
	srv.Audit.AddSink(rec.Sink())
	apptest.AddUser(t, srv.App, "/", "alice", "correct horse", nil)
	return srv, clock, rec
}

// restLogin runs the login journey from client address ip and returns the final
// response.
func restLogin(t *testing.T, base, ip, user, pw string) resp {
	t.Helper()
	r1 := post(t, base+loginURL, nil, "X-Forwarded-For", ip)
	if r1.status != 200 {
		t.Fatalf("start from %s: %d %s", ip, r1.status, r1.raw)
	}
	return post(t, base+loginURL, fill(r1.body, map[string]any{"NameCallback": user, "PasswordCallback": pw}), "X-Forwarded-For", ip)
}

// TestGuessingOverREST is the review's attack through the AM REST door: one address
// guesses one account's password 200 times over an hour (the review's 500 in 2.8 s
// found no defence), then tries the right one. The defence lets only a handful of the
// guesses be checked, answers the rest exactly as wrong passwords, refuses the right
// password while the delay runs, and the real user, from another address, signs in
// during the attack. It logs the figure the README quotes.
func TestGuessingOverREST(t *testing.T) {
	srv, clock, rec := newThrottledApp(t)
	const (
		attacker = "198.51.100.66"
		home     = "203.0.113.5"
		guesses  = 200
		every    = 18 * time.Second // 200 guesses, one hour
	)
	var wrongBody []byte
	for i := range guesses {
		r := restLogin(t, srv.URL, attacker, "alice", "guess-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if r.status != 401 {
			t.Fatalf("guess %d: %d %s", i+1, r.status, r.raw)
		}
		// Refused or checked, every answer is the same 401 body.
		if wrongBody == nil {
			wrongBody = r.raw
		} else if string(r.raw) != string(wrongBody) {
			t.Fatalf("guess %d answered %s, the first %s", i+1, r.raw, wrongBody)
		}
		clock.Add(every)
		if i == guesses/2 {
			// The real user signs in from home in the middle of the attack.
			if r := restLogin(t, srv.URL, home, "alice", "correct horse"); r.status != 200 || r.body["tokenId"] == nil {
				t.Fatalf("the real user was locked out during the attack: %d %s", r.status, r.raw)
			}
		}
	}
	refused := rec.Count(audit.ThrottleRefused)
	checked := guesses - refused
	t.Logf("one address, one account, one hour, defaults: %d of %d guesses checked, %d refused unchecked", checked, guesses, refused)
	if checked > 20 {
		t.Errorf("%d guesses checked in an hour, want at most 20", checked)
	}
	// The right password from the attacker's address, straight after: refused while the
	// delay runs, answered as a wrong one.
	if r := restLogin(t, srv.URL, attacker, "alice", "correct horse"); r.status != 401 || string(r.raw) != string(wrongBody) {
		t.Errorf("the right password from the attacking address: %d %s, want the wrong-password answer", r.status, r.raw)
	}
	if rec.Count(audit.ThrottleUserDelayed) != 0 {
		t.Error("one address set off an account-wide delay")
	}
	// An unknown account is throttled and answered the same way.
	for range 8 {
		if r := restLogin(t, srv.URL, attacker, "nobody", "guess"); r.status != 401 || string(r.raw) != string(wrongBody) {
			t.Fatalf("unknown user: %d %s", r.status, r.raw)
		}
	}
	if n := rec.Count(audit.ThrottleRefused) - refused - 1; n != 3 {
		t.Errorf("%d of 8 guesses at an unknown user refused, want 3 (5 free), as for a known one", n)
	}
}
