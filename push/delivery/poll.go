package delivery

import "context"

// Poll serves devices that fetch their pending challenges from the server themselves,
// so push works with no vendor cloud: Send has nothing to do and succeeds. The pending
// challenge endpoint belongs to the push core.
type Poll struct {
	name string
}

// NewPoll returns a poll provider called name ("poll" when empty).
func NewPoll(name string) *Poll {
	if name == "" {
		name = "poll"
	}
	return &Poll{name: name}
}

// Name returns the provider's name.
func (p *Poll) Name() string { return p.name }

// Supports reports true for "poll".
func (p *Poll) Supports(communication string) bool {
	return NormalizeCommunication(communication) == CommPoll
}

// Send does nothing and returns nil: the device collects the message when it polls.
func (p *Poll) Send(context.Context, Message) error { return nil }
