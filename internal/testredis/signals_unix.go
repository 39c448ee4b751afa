//go:build unix

package testredis

import (
	"os"
	"syscall"
)

// Signals used to stop, pause and resume the server.
var (
	sigTerm os.Signal = syscall.SIGTERM
	sigStop os.Signal = syscall.SIGSTOP
	sigCont os.Signal = syscall.SIGCONT
)
