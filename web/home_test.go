package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestBrowserLandingPage: the root is a page with a way in, and the journey viewer's
// link is shown to admins only, there and on the signed-in page.
func TestBrowserLandingPage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admin bool
	}{{"user", false}, {"admin", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			if tc.admin {
				if _, err := e.app.Users.Update(context.Background(), "/", alice, func(u *identity.User) error {
					u.Attributes = map[string]any{"roles": []any{"admin"}}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			b := newBrowser(t, e)
			b.open("/")
			b.WaitVisible("#home-sign-in")
			if got := b.Text("#home-developers"); !strings.Contains(got, "/json/realms/root/authenticate") || !strings.Contains(got, "/health/ready") || !strings.Contains(got, "/metrics") {
				t.Errorf("developer links: %q", got)
			}
			b.ClickAndLoad("#home-sign-in")
			b.signIn(password)
			b.WaitVisible("#signed-in-user")
			if got := eval[bool](b, `document.getElementById('done-viewer') !== null`); got != tc.admin {
				t.Errorf("signed-in page shows the viewer link: %v, want %v", got, tc.admin)
			}
			b.open("/")
			b.WaitVisible("#home-devices")
			if got := b.Text("#signed-in-user"); got != alice {
				t.Errorf("landing page signed in as %q", got)
			}
			if got := eval[bool](b, `document.getElementById('home-viewer') !== null`); got != tc.admin {
				t.Errorf("landing page shows the viewer link: %v, want %v", got, tc.admin)
			}
			if eval[bool](b, `document.getElementById('home-sign-in') !== null`) {
				t.Error("a signed-in visitor is offered to sign in")
			}
			b.checkConsole()
		})
	}
}

// TestBrowserRetrySaysWhy: a journey that loops back after a wrong password or a wrong
// recovery code shows why as an inline error, and keeps the user name.
func TestBrowserRetrySaysWhy(t *testing.T) {
	e := newEnv(t, envOptions{})
	codes := e.enroll()
	const doc = `{"name":"retry-login","start":"login","nodes":{
  "login":{"type":"page","config":{"nodes":[{"type":"username"},{"type":"password"}]},"outcomes":{"outcome":"check"}},
  "check":{"type":"data_store_decision","outcomes":{"true":"recovery","false":"retry"}},
  "retry":{"type":"retry_limit","config":{"retry_limit":2},"outcomes":{"retry":"login","reject":"failure"}},
  "recovery":{"type":"recovery_code_collector_decision","outcomes":{"true":"success","false":"again"}},
  "again":{"type":"retry_limit","outcomes":{"retry":"recovery","reject":"failure"}}}}`
	if _, err := e.app.Journeys.Save(context.Background(), []byte(doc), "test"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	b.open("/login?journey=retry-login")
	b.signIn("not the password")
	b.WaitVisible(".message.error[role='alert']")
	if got := b.Text(".message.error[role='alert']"); got != "The username or password is not correct. 2 attempts left." {
		t.Fatalf("inline error %q", got)
	}
	if got := eval[string](b, `document.querySelector('input[autocomplete="username"]').value`); got != alice {
		t.Fatalf("user name not kept: %q", got)
	}
	b.TypeIn("input[type='password']", password+"\r")
	b.WaitVisible("label")
	b.WaitVisible("input[autocapitalize='none']")
	if eval[bool](b, `document.querySelector('.message.error') !== null`) {
		t.Fatal("the error stayed after a good password")
	}
	b.TypeIn("input[autocapitalize='none']", "NOTACODE00\r")
	b.WaitVisible(".message.error[role='alert']")
	if got := b.Text(".message.error[role='alert']"); got != "That recovery code is not valid. 3 attempts left." {
		t.Fatalf("inline error %q", got)
	}
	b.TypeIn("input[autocapitalize='none']", codes[0]+"\r")
	b.WaitVisible("#signed-in-user")
	b.checkConsole()
}

// TestPageViewReadsTheUserOnce: the pages and APIs that check the admin role on the
// signed-in account (the landing page, the signed-in page, the journey viewer, the admin
// API, AM's trees endpoint) read the account once per request, through the door core's
// ValidateUser/RefreshUser, not again to authorize.
func TestPageViewReadsTheUserOnce(t *testing.T) {
	var counted *storetest.Counting
	s := apptest.Start(t, apptest.Options{AppOptions: []app.Option{app.WithStoreWrap(func(st store.Store) store.Store {
		counted = storetest.NewCounting(st)
		return counted
	})}})
	ctx := context.Background()
	for _, admin := range []bool{false, true} {
		attrs := map[string]any{}
		if admin {
			attrs["roles"] = []any{"admin"}
		}
		name := fmt.Sprintf("user-%t", admin)
		if err := s.Users.Put(ctx, &identity.User{Realm: "/", Username: name, Status: identity.StatusActive, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.Sessions.Create(ctx, name, "/", "login", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/login/done", "/admin/journeys", "/api/admin/v1/journeys",
			"/json/realms/root/realm-config/authentication/authenticationtrees/trees?_queryFilter=true"} {
			counted.Reset()
			req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
			req.AddCookie(&http.Cookie{Name: s.Config.CookieName, Value: tok})
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			r, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if path == "/" || path == "/login/done" || admin {
				page := !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/json/")
				if r.StatusCode != http.StatusOK || (page && !strings.Contains(string(body), name)) {
					t.Fatalf("%s as %s: %d", path, name, r.StatusCode)
				}
			}
			var reads []string
			for _, op := range counted.Ops() {
				if strings.HasPrefix(op.Key, "user:") {
					reads = append(reads, op.Name+" "+op.Key)
				}
			}
			if len(reads) != 1 {
				t.Errorf("GET %s as %s: account calls %v, want one read", path, name, reads)
			}
		}
	}
}
