//go:build !unix

package embedded

import (
	"errors"
	"os"
)

// errWouldBlock is what lockExclusive returns when another holder has the lock.
var errWouldBlock = errors.New("lock held")

// lockExclusive fails: data directories can only be locked on Unix systems.
func lockExclusive(*os.File) error {
	return errors.New("locking a data directory is only supported on Unix systems")
}
