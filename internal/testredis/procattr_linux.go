package testredis

import "syscall"

// sysProcAttr makes the kernel kill redis-server if the test binary dies without
// running its cleanups, so that crashed test runs do not leak servers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
