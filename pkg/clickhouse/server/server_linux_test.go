package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse/server"
)

// helperEnv makes the test binary act as a parent process that starts a server and
// waits to be killed (see TestServerDiesWithParent).
const helperEnv = "CX360_CLICKHOUSE_SERVER_HELPER_DIR"

func TestHelperParentProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return // only meaningful when run by TestServerDiesWithParent
	}
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir}, nil)
	if err != nil {
		fmt.Printf("error=%v\n", err)
		os.Exit(1)
	}
	fmt.Printf("pid=%d\n", srv.PID())
	time.Sleep(time.Minute) // killed by the parent test long before this
	os.Exit(2)
}

// prSetChildSubreaper makes orphaned descendants children of this process, so the
// test can reap the server its killed helper leaves behind instead of leaving a
// zombie for init.
const prSetChildSubreaper = 36

func TestServerDiesWithParent(t *testing.T) {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	defer syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperParentProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	var pid int
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		line := scanner.Text()
		if v, ok := strings.CutPrefix(line, "pid="); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
		if strings.HasPrefix(line, "error=") {
			t.Fatal(line)
		}
	}
	if pid == 0 {
		t.Fatalf("helper printed no server pid (scan: %v)", scanner.Err())
	}
	if !processAlive(pid) {
		t.Fatalf("server %d not running before the parent is killed", pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The helper is gone, so the server is now our child: reap it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status syscall.WaitStatus
		reaped, err := syscall.Wait4(pid, &status, syscall.WNOHANG, nil)
		if reaped == pid {
			if !status.Signaled() || status.Signal() != syscall.SIGKILL {
				t.Fatalf("server ended with %v; want killed by SIGKILL", status)
			}
			return
		}
		if err != nil && !processAlive(pid) {
			return // reaped by someone else: gone all the same
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %d outlived its killed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether pid is a live (not zombie) process.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
