package server

import "syscall"

// childProcAttr puts the server in its own process group, so a terminal's Ctrl-C
// reaches only the parent (which then stops the server gracefully), and has the
// kernel SIGKILL it when the parent dies, so a killed parent never leaves a server
// holding its ports and data dir.
//
// Linux sends Pdeathsig when the OS thread that started the child exits, not the
// process; Go keeps its threads alive unless a goroutine locked to one exits, which
// this package never does.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
