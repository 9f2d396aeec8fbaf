//go:build !unix

package chdb

import "syscall"

// childProcAttr has nothing to set where there are no process groups.
func childProcAttr() *syscall.SysProcAttr { return nil }
