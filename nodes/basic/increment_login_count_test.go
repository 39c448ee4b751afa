package basic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

func TestIncrementLoginCount(t *testing.T) {
	for _, tc := range []struct {
		name, config, count, at string
	}{
		{"defaults", "", "loginCount", "lastLogin"},
		{"own attributes", `{"count_attribute": "logins", "time_attribute": "seen"}`, "logins", "seen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUser(t, "alice", "pw")
			n := f.mustBuild(t, "increment_login_count", tc.config)
			for want := 1; want <= 2; want++ {
				ctx := newCtx()
				ctx.Shared["username"] = "alice"
				if o := run(t, n, ctx).Outcome; o != "outcome" {
					t.Fatalf("outcome %q", o)
				}
				u, err := f.users.Get(context.Background(), "/", "alice")
				if err != nil {
					t.Fatal(err)
				}
				if c, _ := u.Attributes[tc.count].(float64); int(c) != want {
					t.Errorf("visit %d: %s = %v", want, tc.count, u.Attributes[tc.count])
				}
				if at := u.Attributes[tc.at]; at != testNow.UTC().Format(time.RFC3339) {
					t.Errorf("visit %d: %s = %v", want, tc.at, at)
				}
			}
		})
	}
}

func TestIncrementLoginCountFails(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "increment_login_count", "")
	for name, user := range map[string]string{"no username": "", "unknown user": "ghost"} {
		ctx := newCtx()
		if user != "" {
			ctx.Shared["username"] = user
		}
		if _, err := n.Process(ctx); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f.st.Down.Store(true)
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	if _, err := n.Process(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("store down: %v, want store.ErrUnavailable (the step is retried, not failed)", err)
	}
}

func TestIncrementLoginCountConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "increment_login_count", `{"count_attribute": ""}`, "/nodes/n/config/count_attribute bad_config")
	wantProblems(t, f, "increment_login_count", `{"time_attribute": "a b"}`, "/nodes/n/config/time_attribute bad_config")
}
