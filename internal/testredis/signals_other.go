//go:build !unix

package testredis

import "os"

// Signals used to stop, pause and resume the server. Without Unix signals the server
// is killed outright, and Pause and Resume fail.
var (
	sigTerm = os.Kill
	sigStop = os.Interrupt
	sigCont = os.Interrupt
)
