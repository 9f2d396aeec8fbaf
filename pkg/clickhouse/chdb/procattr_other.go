//go:build unix && !linux

package chdb

import "syscall"

// childProcAttr puts the Node process in its own process group. Only Linux can
// tie the child's life to the parent's; elsewhere Close must be called.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
