package basic_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestRetryLimitInFlow(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "retry_limit", `{"retry_limit": 2}`)
	ctx := newCtx()
	var got, says []string
	for range 4 {
		act := run(t, n, ctx)
		got, says = append(got, act.Outcome), append(says, act.StepError)
		ctx.Shared = roundTrip(t, ctx.Shared) // the count survives the flow store
	}
	if want := []string{"retry", "retry", "reject", "reject"}; !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	// Each retry tells the next step how many attempts remain.
	if want := []string{"2 attempts left.", "1 attempt left.", "", ""}; !reflect.DeepEqual(says, want) {
		t.Errorf("step errors %q, want %q", says, want)
	}
	if c, _ := ctx.Shared.Int("arbor.node.n.retry_count"); c != 2 {
		t.Errorf("count %d, want 2", c)
	}
}

func TestRetryLimitDefault(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "retry_limit", "")
	ctx := newCtx()
	for i := range 3 {
		if o := run(t, n, ctx).Outcome; o != "retry" {
			t.Fatalf("visit %d: %q", i, o)
		}
	}
	if o := run(t, n, ctx).Outcome; o != "reject" {
		t.Errorf("fourth visit: %q, want reject", o)
	}
}

func TestRetryLimitOnUser(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "retry_limit", `{"retry_limit": 2, "save_on_user": true}`)
	const attr = "retry_limit_count.j.n"
	// Each visit is a new flow: the count lives on the user.
	var got []string
	for range 3 {
		ctx := newCtx()
		ctx.Shared["username"] = "alice"
		got = append(got, run(t, n, ctx).Outcome)
	}
	if want := []string{"retry", "retry", "reject"}; !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	u, err := f.users.Get(context.Background(), "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Attributes[attr]; ok {
		t.Errorf("reject left the count on the user: %v", u.Attributes)
	}
	// After the reject cleared it, counting starts over.
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	if o := run(t, n, ctx).Outcome; o != "retry" {
		t.Errorf("after reject: %q, want retry", o)
	}
	if u, _ = f.users.Get(context.Background(), "/", "alice"); u.Attributes[attr] != 1.0 {
		t.Errorf("saved count %v, want 1", u.Attributes[attr])
	}
	if c, _ := ctx.Shared.Int("arbor.node.n.retry_count"); c != 1 {
		t.Errorf("flow count %d, want 1", c)
	}
}

// TestRetryLimitCountsUnknownUsersAsKnown: with save_on_user, a name without an
// account is counted across flows exactly as an account is, so the outcomes do not
// tell an attacker which names exist. Without a name the count stays in the flow.
func TestRetryLimitCountsUnknownUsersAsKnown(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "retry_limit", `{"retry_limit": 2, "save_on_user": true}`)
	// Each visit is a new flow, and the name is typed in varying case.
	outcomes := func(names ...string) []string {
		var got []string
		for _, name := range names {
			ctx := newCtx()
			ctx.Shared["username"] = name
			got = append(got, run(t, n, ctx).Outcome)
		}
		return got
	}
	known := outcomes("alice", "Alice", "alice", "ALICE")
	unknown := outcomes("ghost", "Ghost", "ghost", "GHOST")
	if want := []string{"retry", "retry", "reject", "retry"}; !reflect.DeepEqual(known, want) || !reflect.DeepEqual(unknown, known) {
		t.Errorf("outcomes: known %v, unknown %v; want both %v", known, unknown, want)
	}
	// Counts are per realm: the same name in another realm starts afresh.
	ctx := newCtx()
	ctx.Realm = "/alpha"
	ctx.Shared["username"] = "ghost"
	if o := run(t, n, ctx).Outcome; o != "retry" {
		t.Errorf("ghost in /alpha: %q", o)
	}
	ctx = newCtx()
	if o := run(t, n, ctx).Outcome; o != "retry" {
		t.Errorf("no name: %q", o)
	}
	if o := run(t, n, ctx).Outcome; o != "retry" {
		t.Errorf("no name, second visit: %q", o)
	}
	if o := run(t, n, ctx).Outcome; o != "reject" {
		t.Errorf("no name, third visit: %q", o)
	}
}

func TestRetryLimitOnUserStoreDown(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "retry_limit", `{"save_on_user": true}`)
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	f.st.Down.Store(true)
	if _, err := n.Process(ctx); err == nil {
		t.Error("no error with the store down")
	}
	if ctx.Shared.Has("arbor.node.n.retry_count") {
		t.Error("fell back to the flow while the store was down")
	}
}

func TestRetryLimitConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "retry_limit", `{"retry_limit": 0}`, "/nodes/n/config/retry_limit bad_config")
	wantProblems(t, f, "retry_limit", `{"retry_limit": "3"}`, "/nodes/n/config/retry_limit bad_config")
	wantProblems(t, f, "retry_limit", `{"retry_limit": 1.5}`, "/nodes/n/config/retry_limit bad_config")
	wantProblems(t, f, "retry_limit", `{"save_on_user": "yes"}`, "/nodes/n/config/save_on_user bad_config")
	wantProblems(t, f, "retry_limit", `{"retryLimit": 3}`, "/nodes/n/config/retryLimit bad_config")
}

// TestRetryLimitCompleteClearsSavedCount: a successful end clears the count saved on the
// user; a failed end, or nothing saved, changes nothing and is no error.
func TestRetryLimitCompleteClearsSavedCount(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "retry_limit", `{"retry_limit": 3, "save_on_user": true}`)
	cm, ok := n.(nodes.Completer)
	if !ok {
		t.Fatal("retry_limit does not act on the end of a flow")
	}
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	if err := cm.Complete(ctx, true); err != nil {
		t.Fatalf("nothing saved: %v", err)
	}
	run(t, n, ctx) // saves a count of 1
	saved := func() bool {
		u, err := f.users.Get(context.Background(), "/", "alice")
		if err != nil {
			t.Fatal(err)
		}
		_, ok := u.Attributes["retry_limit_count.j.n"]
		return ok
	}
	if err := cm.Complete(ctx, false); err != nil || !saved() {
		t.Fatalf("a failed end cleared the count (err %v)", err)
	}
	if err := cm.Complete(ctx, true); err != nil || saved() {
		t.Fatalf("a successful end kept the count (err %v)", err)
	}
}
