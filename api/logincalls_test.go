package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestPasswordLoginStoreCalls pins the store calls of a two-step REST password login
// (the bench's), and that the two things a right password leads to cost none of their
// own: the throttle's success record rides in the batch that finishes the flow, and the
// user's enrolled second factors, which decide the session's required level, are read
// in the batch that counts the attempt and reads the account. The second factors are
// read in each request: a device enrolled between two logins is seen by the second.
func TestPasswordLoginStoreCalls(t *testing.T) {
	var counted *storetest.Counting
	a := apptest.New(t, apptest.Options{Args: []string{"--demo"}, AppOptions: []app.Option{app.WithStoreWrap(func(st store.Store) store.Store {
		counted = storetest.NewCounting(st)
		return counted
	})}})
	h := a.Handler()
	serve := func(body []byte) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, loginURL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-API-Version", "protocol=1.0,resource=2.1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var m map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	// login runs the two steps and returns the submit's status and body, and the store
	// calls of the whole login.
	login := func() (int, map[string]any, []storetest.Op) {
		t.Helper()
		counted.Reset()
		code, step := serve(nil)
		if code != http.StatusOK || step["authId"] == nil {
			t.Fatalf("start: %d %v", code, step)
		}
		body, _ := json.Marshal(fill(step, map[string]any{"NameCallback": app.DemoUser, "PasswordCallback": app.DemoPassword}))
		code, out := serve(body)
		return code, out, counted.Ops()
	}
	// The calls a login makes, each named by what it touches.
	describe := func(ops []storetest.Op) []string {
		var out []string
		for _, op := range ops {
			var parts []string
			for _, what := range []struct{ name, prefix string }{
				{"flow", "flow:"}, {"throttle", "throttle:"}, {"user", "user:"}, {"mfa", "mfa:"},
				{"session", "session:"}, {"index", "usersessions:"},
			} {
				if strings.Contains(op.Key, what.prefix) {
					parts = append(parts, what.name)
				}
			}
			out = append(out, op.Name+"("+strings.Join(parts, ",")+")")
		}
		return out
	}
	// The start makes none: its flow travels sealed in the authId, and the submit opens
	// it from there instead of loading it.
	want := []string{
		"Do(throttle,user,mfa)",           // the attempt counted, the account and its factors read
		"Do(flow,throttle,session,index)", // the session, its index, the success record, the flow's end
	}
	ctx := context.Background()
	// The first login from an address also writes the known-address mark; count the next.
	if code, out, _ := login(); code != http.StatusOK || out["tokenId"] == nil {
		t.Fatalf("first login: %d %v", code, out)
	}
	code, out, ops := login()
	if code != http.StatusOK || out["tokenId"] == nil {
		t.Fatalf("login: %d %v", code, out)
	}
	if got := describe(ops); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("store calls of a login:\n got %v\nwant %v\n(%v)", got, want, ops)
	}

	// A factor enrolled now is read by the next login, which the core then refuses
	// (a password alone does not reach the level the account needs), at the same cost
	// up to the end: no session, so the flow ends alone.
	secret := make([]byte, 20)
	rand.Read(secret)
	dev, err := a.Devices.AddOATH(ctx, "/", app.DemoUser, devices.OATHDevice{Name: "app", Params: oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 30}}, secret)
	if err != nil {
		t.Fatal(err)
	}
	code, out, ops = login()
	if code != http.StatusUnauthorized {
		t.Fatalf("password-only login of an account with a second factor: %d %v, want 401", code, out)
	}
	if got := describe(ops); len(got) != len(want) || got[0] != want[0] {
		t.Errorf("store calls of a refused login: %v, want %v and the flow's end", got, want[:1])
	}

	// And one removed now is not missed by the next.
	if err := a.Devices.Revoke(ctx, "/", app.DemoUser, dev.ID); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = login(); code != http.StatusOK || out["tokenId"] == nil {
		t.Fatalf("login after the factor was removed: %d %v", code, out)
	}
}
