package web_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
)

// hiddenValues masks what changes from one page to the next (CSRF token, flow ids), so
// two answers can be compared for what a user or an attacker reads in them.
var hiddenValues = regexp.MustCompile(`value="[A-Za-z0-9_\-.=:]{16,}"`)

// TestGuessingInTheBrowser is the review's attack through the browser door: one address
// guesses alice's password 200 times over an hour of the server's clock, then tries the
// right one. Only a handful of guesses are checked, every answer is the same "Sign-in
// failed." page, the right password is refused while the delay runs, and alice signs in
// from her own address in the middle of the attack.
func TestGuessingInTheBrowser(t *testing.T) {
	e := newEnv(t, envOptions{args: []string{"--trusted-proxies", "127.0.0.0/8,::1"}})
	attacker, home := e.client(), e.client()
	attacker.header.Set("X-Forwarded-For", "198.51.100.66")
	home.header.Set("X-Forwarded-For", "203.0.113.5")
	const guesses = 200
	var wrong string
	for i := range guesses {
		p := attacker.login("login", "guess")
		wantStatus(t, p, http.StatusOK, "Sign-in failed.")
		body := hiddenValues.ReplaceAllString(p.body, `value="…"`)
		if wrong == "" {
			wrong = body
		} else if body != wrong {
			t.Fatalf("guess %d answered another page:\n%s\nthe first:\n%s", i+1, body, wrong)
		}
		e.clock.Advance(18 * time.Second)
		if i == guesses/2 {
			wantStatus(t, home.login("login", password), http.StatusSeeOther)
		}
	}
	refused := e.audit.Count(audit.ThrottleRefused)
	t.Logf("browser door, one address, one hour: %d of %d guesses checked", guesses-refused, guesses)
	if checked := guesses - refused; checked > 20 {
		t.Errorf("%d guesses checked in an hour, want at most 20", checked)
	}
	p := attacker.login("login", password)
	wantStatus(t, p, http.StatusOK, "Sign-in failed.")
	if p.setCookie("iPlanetDirectoryPro") != nil {
		t.Error("the right password from the attacking address got a session during the delay")
	}
}
