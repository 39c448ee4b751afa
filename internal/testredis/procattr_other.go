//go:build !linux

package testredis

import "syscall"

// sysProcAttr returns no special attributes: only Linux can tie the server's
// lifetime to the test binary's.
func sysProcAttr() *syscall.SysProcAttr { return nil }
