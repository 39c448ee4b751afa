package radius

import (
	"errors"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
)

func TestState(t *testing.T) {
	s := stateCodec{signer: keys.Generate().Signer(keys.PurposeRADIUSState)}
	now := time.Unix(1_800_000_000, 0)
	step := []nodes.Callback{
		nodes.PollingWaitCallback(1000, "Tap the number 42"),
		nodes.HiddenValueCallback("pushChallengeNumber", "42"),
		nodes.ConfirmationCallback("", []string{"Lost phone? Use a recovery code"}, 0, nodes.ConfirmationNotPressed),
	}
	c := &challenge{Flow: "5YMtSUWjfKy5OqHwTzhZFQ", Expires: now.Add(time.Minute).Unix(), Hold: true, Step: stepOf(step)}
	st, err := s.issue("vpn-gw", "Alice", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) > maxState {
		t.Fatalf("State of %d bytes", len(st))
	}
	got, err := s.open("vpn-gw", "alice", st, now)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	cbs, err := got.callbacks()
	if err != nil || got.Flow != c.Flow || !got.Hold || len(cbs) != 3 || cbs[0].Type != nodes.TypePollingWait || cbs[2].Type != nodes.TypeConfirmation {
		t.Fatalf("opened %+v %+v %v", got, cbs, err)
	}
	if v, ok := cbs[2].In("").(float64); !ok || v != nodes.ConfirmationNotPressed {
		t.Errorf("confirmation preset %#v", cbs[2].In(""))
	}
	flip := func(i int) []byte { b := append([]byte(nil), st...); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name, client, user string
		state              []byte
		at                 time.Time
		want               error
	}{
		{"another client", "fw", "alice", st, now, errStateInvalid},
		{"another user", "vpn-gw", "bob", st, now, errStateInvalid},
		{"a flipped body bit", "vpn-gw", "alice", flip(3), now, errStateInvalid},
		{"a flipped tag bit", "vpn-gw", "alice", flip(len(st) - 1), now, errStateInvalid},
		{"cut short", "vpn-gw", "alice", st[:stateMACSize], now, errStateInvalid},
		{"empty", "vpn-gw", "alice", nil, now, errStateInvalid},
		{"expired", "vpn-gw", "alice", st, now.Add(time.Minute), errStateExpired},
	} {
		if _, err := s.open(tc.client, tc.user, tc.state, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	big := &challenge{Flow: "f", Step: stepOf([]nodes.Callback{nodes.TextOutputCallback(string(make([]byte, 300)), "0")})}
	big.Step[0].Inputs = []any{"", string(make([]byte, 300))}
	if _, err := s.issue("vpn-gw", "alice", big); !errors.Is(err, errStateTooBig) {
		t.Errorf("a step too big for a State: %v", err)
	}
}

func TestDedup(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	d := newDedup(30*time.Second, 2, func() time.Time { return now })
	k := func(id byte) dupKey { return dupKey{client: "c", id: id} }
	if first, _ := d.begin(k(1)); !first {
		t.Fatal("new request not first")
	}
	if first, reply := d.begin(k(1)); first || reply != nil {
		t.Fatal("a copy in flight must be dropped")
	}
	d.finish(k(1), []byte("answer"))
	if first, reply := d.begin(k(1)); first || string(reply) != "answer" {
		t.Fatalf("a copy after the answer got %q", reply)
	}
	if first, _ := d.begin(k(2)); !first {
		t.Fatal("second request")
	}
	// Full of live entries: a third is dropped rather than risk a double run.
	if first, _ := d.begin(k(3)); first {
		t.Fatal("a full cache took a request")
	}
	d.finish(k(2), nil) // no answer sent: forgotten, so a retry is answered
	if first, _ := d.begin(k(2)); !first {
		t.Fatal("a request that got no answer must be processed again")
	}
	now = now.Add(31 * time.Second)
	if first, _ := d.begin(k(1)); !first {
		t.Fatal("an answer older than the window is forgotten")
	}
}
