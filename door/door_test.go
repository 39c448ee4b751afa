package door

import (
	"context"
	"errors"
	"testing"

	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestValidateCostsOneExtraRead: checking the account on every validation is one store
// read on top of the session's own, and a session of another realm costs nothing more.
func TestValidateCostsOneExtraRead(t *testing.T) {
	raw, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := storetest.NewCounting(raw)
	ctx := context.Background()
	users := identity.New(st, identity.Options{Params: identity.CheapParams})
	if err := users.Put(ctx, &identity.User{Realm: "/", Username: "alice", Status: identity.StatusActive}); err != nil {
		t.Fatal(err)
	}
	sm := sessions.New(st, sessions.Config{})
	deps := &nodes.Deps{}
	eng := engine.New(engine.Config{}, st, journeys.NewRepo(st, journeys.CompileOptions{Registry: nodes.NewRegistry(), Deps: deps}), deps, nil)
	c, err := New(Config{Realms: []string{"alpha"}}, Deps{Engine: eng, Sessions: sm, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := sm.Grant(ctx, sessions.Grant{Username: "alice", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		realm string
		valid bool
		reads int
	}{
		{"/", true, 2},
		{"/alpha", false, 1},
	} {
		st.Reset()
		_, err := c.Validate(ctx, tc.realm, tok)
		if (err == nil) != tc.valid || (err != nil && !errors.Is(err, sessions.ErrInvalid)) {
			t.Fatalf("Validate in %s: %v", tc.realm, err)
		}
		if ops := st.Ops(); len(ops) != tc.reads {
			t.Errorf("Validate in %s: %d store calls %v, want %d reads", tc.realm, len(ops), ops, tc.reads)
		}
	}
}
