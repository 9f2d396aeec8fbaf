//go:build unix && !linux

package server

import "syscall"

// childProcAttr puts the server in its own process group. Only Linux can tie the
// child's life to the parent's; elsewhere Stop or Kill must be called.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
