package viewer_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/sessions"
)

// TestAdminNeedsTheStrongestEnrolledLevel: an admin with a push device reaches the
// viewer only with a session that verified the phone; a password-only or restricted
// session is sent through the step-up journey (a 401 for the JSON API).
func TestAdminNeedsTheStrongestEnrolledLevel(t *testing.T) {
	a, srv := newApp(t)
	ctx := context.Background()
	signIn(t, a, "/", "boss", map[string]any{"roles": []any{"admin"}})
	secret := make([]byte, devices.SecretLen)
	rand.Read(secret)
	if err := a.Devices.Add(ctx, "/", "boss", devices.Device{ID: "boss-phone", Communication: devices.CommPoll}, secret); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		grant sessions.Grant
		ok    bool
	}{
		{"password only", sessions.Grant{Factors: []string{"pwd"}, Level: 10}, false},
		{"restricted", sessions.Grant{Factors: []string{"pwd"}, Level: 10, Restricted: true}, false},
		{"password and phone", sessions.Grant{Factors: []string{"pwd", "push"}, Level: 20}, true},
	} {
		g := tc.grant
		g.Username, g.Realm, g.Journey = "boss", "/", "x"
		tok, _, err := a.Sessions.Grant(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		r := do(t, a, http.MethodGet, srv.URL+"/admin/journeys", tok, nil)
		if tc.ok {
			if r.status != http.StatusOK {
				t.Errorf("%s: %d", tc.name, r.status)
			}
			continue
		}
		if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?journey=push-mfa&goto=/admin/journeys") {
			t.Errorf("%s: %d to %q, want the push-mfa step-up", tc.name, r.status, loc)
		}
		if r := do(t, a, http.MethodGet, srv.URL+"/admin/journeys/login/graph.json", tok, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s: API answered %d", tc.name, r.status)
		}
	}
}
