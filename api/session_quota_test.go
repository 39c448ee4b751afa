package api_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestLoginAtQuotaCostsNoExtraStoreCall: a REST login of a user who already has
// sessions.MaxPerUser sessions (`arbor bench --logout=false`) makes exactly the store
// calls of a login below the quota (two), with no Delete of its own: the oldest session ends
// inside the index push of the login's commit, and stops validating at once. On the
// embedded store and a real redis-server.
func TestLoginAtQuotaCostsNoExtraStoreCall(t *testing.T) {
	for _, tc := range apptest.Stores {
		t.Run(tc.Name, func(t *testing.T) {
			var counted *storetest.Counting
			a := apptest.New(t, apptest.Options{Args: append([]string{"--demo"}, tc.Args(t)...),
				AppOptions: []app.Option{app.WithStoreWrap(func(st store.Store) store.Store {
					counted = storetest.NewCounting(st)
					return counted
				})}})
			d := &loginDriver{h: a.Handler()}
			var toks []string
			var below []string
			for i := range sessions.MaxPerUser {
				counted.Reset()
				toks = append(toks, d.login(t))
				if i == sessions.MaxPerUser-1 {
					below = callShapes(counted.Ops())
				}
			}
			counted.Reset()
			d.login(t)
			ops := counted.Ops()
			at := callShapes(ops)
			t.Logf("a login at the quota: %d store calls: %s", len(at), strings.Join(at, "; "))
			if !slices.Equal(at, below) {
				t.Errorf("store calls at the quota:\n%s\nbelow it:\n%s", strings.Join(at, "\n"), strings.Join(below, "\n"))
			}
			if len(at) != 2 {
				t.Errorf("a login at the quota: %d store calls, want 2 (the check, the commit with the success record)", len(at))
			}
			// The commit's batch deletes the guessing defence's pair deadline (the
			// success record): no session key is deleted by a call or an op of its own.
			for _, op := range ops {
				if op.Name == "Delete" || strings.HasPrefix(op.Key, "Delete session:") || strings.Contains(op.Key, " Delete session:") {
					t.Errorf("a login at the quota deleted on its own: %s %s", op.Name, op.Key)
				}
			}
			ctx := context.Background()
			if _, err := a.Sessions.Validate(ctx, toks[0]); !errors.Is(err, sessions.ErrInvalid) {
				t.Errorf("the oldest session after a login at the quota: %v, want ErrInvalid", err)
			}
			if _, err := a.Sessions.Validate(ctx, toks[1]); err != nil {
				t.Errorf("the second oldest session: %v", err)
			}
		})
	}
}

// callShapes describes each counted call by its method and, for a batch, its ops'
// kinds: what a login costs, without the keys that differ from one login to the next.
func callShapes(ops []storetest.Op) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.Name
		if op.Name == "Do" {
			f := strings.Fields(op.Key)
			for j := 0; j < len(f); j += 2 {
				out[i] += " " + f[j]
			}
		}
	}
	return out
}
