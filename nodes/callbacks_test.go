package nodes_test

import (
	"encoding/json"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestCallbackInputs(t *testing.T) {
	tests := []struct {
		in    any
		str   string
		n     int
		isInt bool
	}{
		{"abc", "abc", 0, false},
		{" 2 ", " 2 ", 2, true},
		{float64(3), "3", 3, true},
		{1.5, "1.5", 0, false},
		{7, "7", 7, true},
		{int64(8), "8", 8, true},
		{nil, "", 0, false},
		{true, "true", 0, false},
	}
	for _, tc := range tests {
		cb := nodes.Callback{Type: nodes.TypeChoice, Input: []nodes.Field{{Name: "", Value: tc.in}}}
		if got := cb.InString(); got != tc.str {
			t.Errorf("InString(%#v) = %q, want %q", tc.in, got, tc.str)
		}
		n, ok := cb.InInt()
		if ok != tc.isInt || n != tc.n {
			t.Errorf("InInt(%#v) = %d %v, want %d %v", tc.in, n, ok, tc.n, tc.isInt)
		}
	}
}

func TestCallbackOutputsAndFind(t *testing.T) {
	cbs := []nodes.Callback{nodes.TextOutputCallback("hi", nodes.MessageInfo), nodes.ConfirmationCallback("", []string{"Yes", "No"}, 1, 1)}
	if got := cbs[0].OutString("message"); got != "hi" {
		t.Errorf("message %q", got)
	}
	if got := cbs[1].OutString("defaultOption"); got != "1" {
		t.Errorf("defaultOption %q", got)
	}
	if got := cbs[1].OutString("missing"); got != "" {
		t.Errorf("missing output %q", got)
	}
	c, ok := nodes.Find(cbs, nodes.TypeConfirmation)
	if !ok || c.Type != nodes.TypeConfirmation {
		t.Errorf("Find: %v %v", c, ok)
	}
	if _, ok := nodes.Find(cbs, nodes.TypeName); ok {
		t.Error("Find found a callback that is not there")
	}
	if _, err := json.Marshal(cbs); err != nil {
		t.Error(err)
	}
}

func TestStateReadsAfterJSON(t *testing.T) {
	var s nodes.State
	if err := json.Unmarshal([]byte(`{"n": 3, "s": "4", "b": true, "t": "x", "big": 9007199254740993}`), &s); err != nil {
		t.Fatal(err)
	}
	if n, ok := s.Int("n"); !ok || n != 3 {
		t.Errorf("Int(n) = %d %v", n, ok)
	}
	if n, ok := s.Int("s"); !ok || n != 4 {
		t.Errorf("Int(s) = %d %v", n, ok)
	}
	if _, ok := s.Int("t"); ok {
		t.Error("Int(t) ok")
	}
	if _, ok := s.Int("none"); ok {
		t.Error("Int(none) ok")
	}
	if !s.Bool("b") || s.Bool("n") || s.String("t") != "x" || s.String("n") != "" || !s.Has("b") || s.Has("none") {
		t.Errorf("state reads wrong: %v", s)
	}
	ctx := &nodes.Context{NodeID: "page.user", Shared: nodes.State{nodes.KeyUsername: "alice"}}
	if ctx.LocalKey("x") != "arbor.node.page.user.x" || ctx.Username() != "alice" {
		t.Errorf("LocalKey %q Username %q", ctx.LocalKey("x"), ctx.Username())
	}
}
