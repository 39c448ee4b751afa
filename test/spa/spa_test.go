// Package spa runs single-page applications in a real headless Chromium against a
// whole Arbor (apptest, as `arbor serve` assembles it) with its OpenID Connect provider:
// the official ForgeRock JavaScript SDK and login widget, loaded unmodified from
// test/sdk/node_modules by pages served on a second origin, so every call to Arbor is
// cross-origin with CORS (the Authorization header of userinfo included). The reference
// authenticator is the phone. Under CI=true a missing Chromium or SDK package fails the
// run (test.sh installs both); elsewhere these tests skip.
package spa

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/chrometest"
)

const (
	clientID = "spa"
	password = "Wonderl4nd!"
	// waitTimeout bounds a wait for the page; generous, since the tests run under the
	// race detector on small, busy machines.
	waitTimeout = 90 * time.Second
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// env is Arbor and the SPA's origin.
type env struct {
	t     *testing.T
	arbor *apptest.Server
	spa   *httptest.Server
	phone *authenticator.Authenticator
}

// newEnv starts the SPA's server, then Arbor with an oidc client for it. Users: alice
// (password only), bob (a registered phone).
func newEnv(t *testing.T) *env {
	t.Helper()
	modules := filepath.Join(repoRoot(t), "test", "sdk", "node_modules")
	for _, p := range []string{"@forgerock/javascript-sdk/package.json", "@forgerock/login-widget/package.json"} {
		_, err := os.Stat(filepath.Join(modules, p))
		chrometest.Need(t, err == nil, "the ForgeRock SDK and login widget packages", "cd test/sdk && npm ci")
	}
	e := &env{t: t}
	e.spa = httptest.NewUnstartedServer(nil)
	spaURL := "http://" + e.spa.Listener.Addr().String()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`oidc:
  clients:
    - client_id: %s
      public: true
      redirect_uris: [%[2]s/silent.html, %[2]s/callback.html]
      post_logout_redirect_uris: [%[2]s/]
      journeys: [login, push-mfa]
      cors_origins: [%[2]s]
`, clientID, spaURL)
	path := filepath.Join(dir, "arbor.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.arbor = apptest.Start(t, apptest.Options{Args: []string{"--config", path, "--cors-origins", spaURL}, PublicURL: true, Dir: dir})
	apptest.AddUser(t, e.arbor.App, "/", "alice", password, map[string]any{"mail": "alice@example.com", "givenName": "Alice"})
	apptest.AddUser(t, e.arbor.App, "/", "bob", password, map[string]any{"mail": "bob@example.com"})
	e.phone = apptest.Phone(t, dir, nil)
	e.spa.Config.Handler = e.spaHandler(modules)
	e.spa.Start()
	t.Cleanup(e.spa.Close)
	return e
}

// spaHandler serves the pages in testdata, the npm packages, and config.js, which
// tells the pages where Arbor is and whom to sign in as.
func (e *env) spaHandler(modules string) http.Handler {
	mux := http.NewServeMux()
	static := func(dir string) http.Handler {
		fs := http.FileServer(http.Dir(dir))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Module scripts must be served as JavaScript, whatever the system's MIME table says.
			if ext := filepath.Ext(r.URL.Path); ext == ".js" || ext == ".mjs" {
				w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			} else if t := mime.TypeByExtension(ext); t != "" {
				w.Header().Set("Content-Type", t)
			}
			w.Header().Set("Cache-Control", "no-store")
			fs.ServeHTTP(w, r)
		})
	}
	mux.Handle("/node_modules/", http.StripPrefix("/node_modules/", static(modules)))
	mux.HandleFunc("/config.js", func(w http.ResponseWriter, r *http.Request) {
		cfg, _ := json.Marshal(map[string]string{"url": e.arbor.URL, "clientId": clientID, "user": "alice", "password": password})
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		fmt.Fprintf(w, "window.ARBOR = %s;\n", cfg)
	})
	mux.Handle("/", static("testdata"))
	return mux
}

// enroll registers the phone for user outside any journey, as a registration through
// push-mfa would have left it.
func (e *env) enroll(user string) {
	e.t.Helper()
	apptest.Enroll(e.t, e.arbor.App, e.phone, "/", user, authenticator.RegisterOptions{Name: "Bob's phone"})
}

// browser is a headless Chromium with its own profile.
type browser struct {
	*chrometest.Browser
	t *testing.T
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return &browser{Browser: chrometest.Start(t, chrometest.Options{Width: 1000, Height: 800, Timeout: waitTimeout}), t: t}
}

// eval evaluates expr in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return chrometest.Eval[T](b.Browser, expr)
}

// state is what a page reports in window.state.
type state map[string]any

func (s state) str(k string) string { v, _ := s[k].(string); return v }

// waitStage polls window.state until its stage is one of stages; a page that reports
// an error fails the test.
func (b *browser) waitStage(stages ...string) state {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.state || null)`))
		cancel()
		if err == nil && raw != "null" && raw != "" {
			var s state
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				b.t.Fatalf("window.state %q: %v", raw, err)
			}
			last = raw
			if s.str("stage") == "error" {
				b.t.Fatalf("the page failed: %s", raw)
			}
			if slices.Contains(stages, s.str("stage")) {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page did not reach %v; last state %s", stages, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// signInOnArborsPage fills Arbor's login page (the browser door) and submits it.
func (b *browser) signInOnArborsPage(user string) {
	b.t.Helper()
	b.Do("sign in on Arbor's page",
		chromedp.WaitVisible(chromedp.CSS(`#IDToken1`)),
		chromedp.SendKeys(chromedp.CSS(`#IDToken1`), user),
		chromedp.SendKeys(chromedp.CSS(`#IDToken2`), password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
	)
}

// validate asks Arbor whether the session token is valid, as /json/sessions does.
func (e *env) validate(token string) bool {
	e.t.Helper()
	var out struct {
		Valid bool `json:"valid"`
	}
	e.post("/json/realms/root/sessions?_action=validate", "application/json", strings.NewReader(`{"tokenId":"`+token+`"}`), &out)
	return out.Valid
}

// refresh redeems a refresh token at the token endpoint and returns the answer.
func (e *env) refresh(token string) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {clientID}}
	var out map[string]any
	status := e.post("/oauth2/realms/root/access_token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), &out)
	return status, out
}

// userinfo calls userinfo with an access token and returns the status.
func (e *env) userinfo(access string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.arbor.URL+"/oauth2/realms/root/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

func (e *env) post(path, contentType string, body io.Reader, out any) int {
	e.t.Helper()
	r, err := http.Post(e.arbor.URL+path, contentType, body)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, out); err != nil {
		e.t.Fatalf("POST %s: %d %q", path, r.StatusCode, b)
	}
	return r.StatusCode
}

// tokens reads the SDK's OAuth2Tokens from a state.
func tokens(t *testing.T, s state) (access, id, refresh string) {
	t.Helper()
	tk, _ := s["tokens"].(map[string]any)
	access, _ = tk["accessToken"].(string)
	id, _ = tk["idToken"].(string)
	refresh, _ = tk["refreshToken"].(string)
	if access == "" || id == "" {
		t.Fatalf("no access or ID token: %v", s["tokens"])
	}
	return access, id, refresh
}

// checkUser checks the SDK's user (userinfo) is alice's, with the profile and email
// scopes' claims.
func checkUser(t *testing.T, u any, name, mail string) {
	t.Helper()
	m, _ := u.(map[string]any)
	if m["sub"] == nil || m["email"] != mail {
		t.Fatalf("user %v, want %s with email %s", u, name, mail)
	}
}

// loggedOut checks that FRUser.logout() ended everything: the Arbor session, the
// access token and the refresh token, and that the SDK warned of nothing failing.
func (e *env) loggedOut(s state, tokenID, access, refresh string) {
	e.t.Helper()
	if e.validate(tokenID) {
		e.t.Error("the Arbor session is still valid after FRUser.logout()")
	}
	if st := e.userinfo(access); st != http.StatusUnauthorized {
		e.t.Errorf("userinfo with the access token after logout: %d, want 401", st)
	}
	if refresh != "" {
		if st, out := e.refresh(refresh); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
			e.t.Errorf("the refresh token after logout: %d %v, want invalid_grant", st, out)
		}
	}
	if w, _ := s["warnings"].([]any); len(w) > 0 {
		e.t.Errorf("the SDK warned: %v", w)
	}
}

// TestSDKIframe: an SPA on another origin signs in with FRAuth.next, gets tokens with
// TokenManager.getTokens() in a hidden iframe (prompt=none, support: 'legacy'), the
// user with UserManager.getCurrentUser() (a cross-origin GET with Authorization, so a
// CORS preflight), and FRUser.logout() ends the Arbor session and the tokens.
func TestSDKIframe(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	b.Navigate(e.spa.URL + "/sdk.html?mode=iframe")
	s := b.waitStage("tokens")
	tokenID := s.str("tokenId")
	access, _, refresh := tokens(t, s)
	checkUser(t, s["user"], "alice", "alice@example.com")
	if !e.validate(tokenID) {
		t.Fatal("the session of the SDK's journey is not valid")
	}
	if refresh != "" {
		// Refresh rotates: the new refresh token is the one that must die with logout.
		st, out := e.refresh(refresh)
		if st != http.StatusOK || out["refresh_token"] == nil {
			t.Fatalf("refresh: %d %v", st, out)
		}
		refresh = out["refresh_token"].(string)
	}
	eval[any](b, `window.proceed(); null`)
	s = b.waitStage("loggedOut")
	if s["stored"] != nil {
		t.Errorf("the SDK still stores tokens after logout: %v", s["stored"])
	}
	e.loggedOut(s, tokenID, access, refresh)
}

// TestSDKRedirect: with no session, TokenManager.getTokens({login: 'redirect'}) tries
// the iframe, gets login_required, and sends the page to authorize; the user signs in
// on Arbor's pages and comes back to the SPA's callback with a code, which the SDK
// exchanges; then the user and FRUser.logout() as above.
func TestSDKRedirect(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	b.Navigate(e.spa.URL + "/sdk.html?mode=redirect")
	b.signInOnArborsPage("alice")
	s := b.waitStage("tokens")
	href := eval[string](b, `location.href`)
	if !strings.HasPrefix(href, e.spa.URL+"/callback.html?") {
		t.Fatalf("the redirect came back to %s", href)
	}
	access, _, refresh := tokens(t, s)
	checkUser(t, s["user"], "alice", "alice@example.com")
	// The browser's Arbor session is the one the login page created.
	tokenID, err := e.cookie(b)
	if err != nil {
		t.Fatal(err)
	}
	if !e.validate(tokenID) {
		t.Fatal("no valid Arbor session in the browser after the redirect login")
	}
	eval[any](b, `window.proceed(); null`)
	s = b.waitStage("loggedOut")
	e.loggedOut(s, tokenID, access, refresh)
}

// cookie returns the browser's Arbor session cookie.
func (e *env) cookie(b *browser) (string, error) {
	var v string
	ctx, cancel := context.WithTimeout(b.Ctx, waitTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.arbor.URL}})
	if err != nil {
		return "", err
	}
	for _, c := range res.Cookies {
		if c.Name == "iPlanetDirectoryPro" {
			v = c.Value
		}
	}
	if v == "" {
		err = fmt.Errorf("no iPlanetDirectoryPro cookie for %s", e.arbor.URL)
	}
	return v, err
}

// numberRE finds the number to match on the push wait step.
var numberRE = regexp.MustCompile(`Tap the number (\d+)`)

// TestWidget: the login widget with its default configuration (oauth and user on)
// signs in through login and through push-mfa, the phone approving the push; it ends
// with tokens and the user, and closes itself (no spinner left).
func TestWidget(t *testing.T) {
	e := newEnv(t)
	e.enroll("bob")
	for _, tc := range []struct {
		journey, user, mail string
	}{
		{"login", "alice", "alice@example.com"},
		{"push-mfa", "bob", "bob@example.com"},
	} {
		t.Run(tc.journey, func(t *testing.T) {
			b := newBrowser(t)
			b.Navigate(e.spa.URL + "/widget.html?journey=" + tc.journey)
			b.Do("sign in through the widget",
				chromedp.WaitVisible(chromedp.CSS(`#widget-root input[type=password]`)),
				chromedp.SendKeys(chromedp.CSS(`#widget-root input[type=text]`), tc.user),
				chromedp.SendKeys(chromedp.CSS(`#widget-root input[type=password]`), password),
				chromedp.Click(chromedp.CSS(`#widget-root button[type=submit]`)),
			)
			if tc.journey == "push-mfa" {
				var text string
				deadline := time.Now().Add(waitTimeout)
				for !numberRE.MatchString(text) {
					if time.Now().After(deadline) {
						t.Fatalf("the widget never showed the number to match: %q", text)
					}
					time.Sleep(250 * time.Millisecond)
					text = eval[string](b, `document.body.innerText`)
				}
				var n int
				fmt.Sscan(numberRE.FindStringSubmatch(text)[1], &n)
				if _, err := e.phone.ApproveLatest(context.Background(), n); err != nil {
					t.Fatalf("the phone could not approve: %v", err)
				}
			}
			s := b.waitStage("done")
			oauth, _ := s["oauth"].(map[string]any)
			resp, _ := oauth["response"].(map[string]any)
			if resp["accessToken"] == nil || resp["idToken"] == nil {
				t.Fatalf("the widget has no tokens: %v", oauth)
			}
			user, _ := s["user"].(map[string]any)
			checkUser(t, user["response"], tc.user, tc.mail)
			// No spinner left: the modal closed itself after the success, and nothing
			// of it still shows.
			deadline := time.Now().Add(waitTimeout)
			for {
				closed := eval[bool](b, `!!(window.state.component && window.state.component.open === false)`)
				shown := eval[string](b, `[...document.querySelectorAll('#widget-root *')].filter((e) => {
					const r = e.getBoundingClientRect();
					return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
				}).map((e) => e.tagName + '.' + e.className).join(' ')`)
				if closed && shown == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the widget did not close itself after the success: component %v, still shown: %s",
						eval[any](b, `window.state.component`), shown)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if w, _ := s["warnings"].([]any); len(w) > 0 {
				t.Errorf("the widget warned: %v", w)
			}
		})
	}
}
