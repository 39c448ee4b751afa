// Package testwait waits in tests for what happens in the background: a retry, a
// timer, another instance catching up. It asserts that a thing happens, never how fast:
// the deadline is generous, since the machine may be loaded.
package testwait

import (
	"testing"
	"time"
)

// Deadline is how long Until waits before it fails the test.
const Deadline = 15 * time.Second

// Until polls done every 50 ms until it reports true, and fails the test, naming what,
// if it has not within Deadline.
func Until(t testing.TB, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, Deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
