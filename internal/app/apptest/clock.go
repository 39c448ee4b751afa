package apptest

import (
	"sync"
	"time"
)

// Clock is a manual clock for Options.Now and the reference authenticator, shared by
// the server and the phone of a test. It stands still, and moves only when told to
// (Advance), until Run makes it move with real time as well: for a test whose client
// waits in real time (a held RADIUS request, a polling page) while the server compares
// deadlines with this clock. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	running time.Time // when Run was called; zero while stopped
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running.IsZero() {
		return c.t.Add(time.Since(c.running))
	}
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Run makes the clock move with real time from now on, on top of what Advance adds.
func (c *Clock) Run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running.IsZero() {
		c.running = time.Now()
	}
}
