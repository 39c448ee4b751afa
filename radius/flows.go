package radius

import (
	"context"

	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
)

// flows is what the door needs of the door core: start a flow of a journey in a realm,
// and answer the step a flow waits on. The engine provides it today; moving the door
// onto the shared door core changes this file only.
type flows interface {
	Start(ctx context.Context, sr engine.StartRequest, opts ...engine.StepOption) (*engine.Result, error)
	Continue(ctx context.Context, flowID, realm string, submitted []nodes.Callback, req nodes.Request, opts ...engine.StepOption) (*engine.Result, error)
}

var _ flows = (*engine.Engine)(nil)
