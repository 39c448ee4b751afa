//go:build unix

package embedded

import (
	"os"
	"syscall"
)

// errWouldBlock is what lockExclusive returns when another holder has the lock.
var errWouldBlock = syscall.EWOULDBLOCK

// lockExclusive takes an exclusive flock on f without waiting. The lock belongs to the
// open file, so it is released when f is closed or the process dies.
func lockExclusive(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
