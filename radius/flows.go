package radius

import (
	"context"

	"github.com/arbor-auth/arbor/door"
)

// flows is what the door needs of the door core: start a flow of a journey in a realm,
// and answer the step a flow waits on, under the core's rules (disabled journeys, the
// second-factor rule, audit). *door.Core provides it; tests may stand in for it.
type flows interface {
	Start(ctx context.Context, s door.Start) (*door.Outcome, error)
	Continue(ctx context.Context, k door.Continue) (*door.Outcome, error)
}

var _ flows = (*door.Core)(nil)
