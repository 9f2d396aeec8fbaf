package chdb

import "syscall"

// childProcAttr puts the Node process in its own process group, so a terminal's
// Ctrl-C reaches only the test binary, and has the kernel SIGKILL it when the test
// binary dies, so a killed test never leaves an engine behind.
//
// Linux sends Pdeathsig when the OS thread that started the child exits, not the
// process; Go keeps its threads alive unless a goroutine locked to one exits,
// which this package never does.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
