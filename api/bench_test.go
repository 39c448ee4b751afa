package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/cpubench"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/sessions"
)

// BenchmarkLogin runs the two-step password login over HTTP in process, with the
// cheapest hash, on the embedded store: the server's cost per login plus the client's.
func BenchmarkLogin(b *testing.B) {
	a := apptest.New(b, apptest.Options{Args: []string{"--demo"}})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	url := srv.URL + loginURL + "&noSession=true"
	client := srv.Client()
	do := func(body []byte) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Body.Close()
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		return m
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step := do(nil)
		step = fill(step, map[string]any{"NameCallback": app.DemoUser, "PasswordCallback": app.DemoPassword})
		body, _ := json.Marshal(step)
		if m := do(body); m["successUrl"] == nil {
			b.Fatalf("login failed: %v", m)
		}
	}
}

// BenchmarkLoginHandler serves what `arbor bench` sends for one login, start, submit and
// logout, straight to the handler with no network in between, on the embedded store with
// the cheapest hash: the server's own CPU per login, without the HTTP transport's.
// It runs on the embedded store and on a real redis-server (started on a free port), and
// on each also as `arbor bench --logout=false` does ("at-quota"): no logout, so the user
// stays at sessions.MaxPerUser and every login ends the oldest session.
func BenchmarkLoginHandler(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchLoginHandler(b, true) })
	b.Run("redis", func(b *testing.B) { benchLoginHandler(b, true, "--redis", testredis.Start(b).URL()) })
	b.Run("embedded-at-quota", func(b *testing.B) { benchLoginHandler(b, false) })
	b.Run("redis-at-quota", func(b *testing.B) { benchLoginHandler(b, false, "--redis", testredis.Start(b).URL()) })
}

func benchLoginHandler(b *testing.B, logout bool, args ...string) {
	a := apptest.New(b, apptest.Options{Args: append([]string{"--demo"}, args...)})
	d := &loginDriver{h: a.Handler()}
	if !logout {
		for range sessions.MaxPerUser {
			d.login(b)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpubench.Start(b)()
	for i := 0; i < b.N; i++ {
		tok := d.login(b)
		if logout {
			d.logout(b, tok)
		}
	}
}

// loginDriver sends a handler what `arbor bench` sends for a login of the demo user,
// with as little work of its own as it can, since a benchmark counts its CPU too.
type loginDriver struct {
	h    http.Handler
	body []byte
}

func (d *loginDriver) serve(url string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, req)
	return w
}

var (
	// loginHead and loginTail are the submit body as the bench client builds it, around
	// the authId: the step echoed back, keys sorted.
	loginHead = []byte(`{"authId":"`)
	loginTail = []byte(`","callbacks":[{"_id":0,"input":[{"name":"IDToken1","value":"` + app.DemoUser + `"}],"output":[{"name":"prompt","value":"User Name"}],"type":"NameCallback"},` +
		`{"_id":1,"input":[{"name":"IDToken2","value":"` + app.DemoPassword + `"}],"output":[{"name":"prompt","value":"Password"}],"type":"PasswordCallback"}],"header":"Sign in","stage":"UsernamePassword"}`)
)

// login starts the login journey, submits the demo user's name and password, and
// returns the session's token.
func (d *loginDriver) login(tb testing.TB) string {
	tb.Helper()
	w := d.serve(loginURL, nil)
	raw := w.Body.Bytes()
	start := bytes.Index(raw, loginHead)
	if w.Code != 200 || start < 0 {
		tb.Fatalf("start: %d %s", w.Code, raw)
	}
	id := raw[start+len(loginHead):]
	id = id[:bytes.IndexByte(id, '"')]
	d.body = append(append(append(d.body[:0], loginHead...), id...), loginTail...)
	w = d.serve(loginURL, d.body)
	var ok struct{ TokenID string }
	if json.Unmarshal(w.Body.Bytes(), &ok); w.Code != 200 || ok.TokenID == "" {
		tb.Fatalf("submit: %d %s", w.Code, w.Body.Bytes())
	}
	return ok.TokenID
}

// logout ends the session of tok.
func (d *loginDriver) logout(tb testing.TB, tok string) {
	tb.Helper()
	if w := d.serve("/json/realms/root/sessions/?_action=logout", nil, "iPlanetDirectoryPro", tok); w.Code != 200 {
		tb.Fatalf("logout: %d %s", w.Code, w.Body.Bytes())
	}
}

// BenchmarkSessionValidate measures _action=validate straight to the handler on the
// embedded store: the session read plus the account read that stops a locked user's
// sessions at once.
func BenchmarkSessionValidate(b *testing.B) {
	a := apptest.New(b, apptest.Options{Args: []string{"--demo"}})
	tok, _, err := a.Sessions.Grant(context.Background(), sessions.Grant{Username: app.DemoUser, Realm: "/", Journey: "login"})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/json/realms/root/sessions?_action=validate", nil)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("iPlanetDirectoryPro", tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"valid":true`)) {
			b.Fatalf("validate: %d %s", w.Code, w.Body.Bytes())
		}
	}
}
