package basic

import (
	"context"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

// TestReservedKeysRefusedAtRunTime: a node built without validation (a journey stored
// before a key became reserved) fails the flow rather than write a reserved key, and
// leaves the state untouched.
func TestReservedKeysRefusedAtRunTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		node nodes.Node
		cbs  []nodes.Callback
	}{
		{"set_state", &setState{values: map[string]any{nodes.KeyFactors: []any{"pwd", "push"}}, progs: map[string]*program{}}, nil},
		{"message", &messageNode{cfg: MessageConfig{StateField: nodes.KeyFactors}}, []nodes.Callback{nodes.ConfirmationCallback("", []string{"Yes", "No"}, 1, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &nodes.Context{Ctx: context.Background(), NodeID: "n", Shared: nodes.State{}, Callbacks: tc.cbs}
			ctx.Shared.AddFactor(nodes.FactorPassword)
			if _, err := tc.node.Process(ctx); err == nil {
				t.Fatal("a reserved key was written without an error")
			}
			if got := ctx.Shared.Factors(); len(got) != 1 || got[0] != nodes.FactorPassword {
				t.Fatalf("factors %v after the refused write", got)
			}
		})
	}
}
