package e2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processes is the pipeline run as separate processes, as in production:
// the infrastructure (`cx360 dev --infra-only`: broker, registry, ClickHouse),
// ingest, identity and sink, each on fixed ports so a restart comes back at
// the same address with the same data.
type processes struct {
	t       testing.TB
	bin     string // directory of the binaries
	dir     string // data
	ports   map[string]int
	logs    *os.File
	mu      sync.Mutex
	running map[string]*exec.Cmd
}

func buildBinaries(t testing.TB) string {
	t.Helper()
	bin := t.TempDir()
	for _, name := range []string{"cx360", "ingest", "identity", "sink"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), "github.com/cx360/cx360/services/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
	return bin
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newProcesses(t testing.TB, bin string) *processes {
	p := &processes{t: t, bin: bin, dir: t.TempDir(), ports: map[string]int{}, running: map[string]*exec.Cmd{}}
	for _, name := range []string{"kafka", "registry", "ch", "chhttp", "ingest", "identity"} {
		p.ports[name] = freePort(t)
	}
	logs, err := os.Create(filepath.Join(p.dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.logs = logs
	t.Cleanup(func() {
		p.stopAll()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("the processes' last output:\n%s", b)
		}
	})
	return p
}

func (p *processes) addr(name string) string { return "127.0.0.1:" + strconv.Itoa(p.ports[name]) }

func (p *processes) args(name string) []string {
	kafka, registry := "--kafka-brokers="+p.addr("kafka"), "--registry-url=http://"+p.addr("registry")
	switch name {
	case "infra":
		return []string{"dev", "--infra-only", "--data-dir=" + filepath.Join(p.dir, "infra"), "--kafka-addr=" + p.addr("kafka"),
			"--registry-addr=" + p.addr("registry"), "--clickhouse-tcp-port=" + strconv.Itoa(p.ports["ch"]),
			"--clickhouse-http-port=" + strconv.Itoa(p.ports["chhttp"]), "--ready-file=" + filepath.Join(p.dir, "ready.json"),
			"--log-level=warn", "--log-format=json"}
	case "ingest":
		return []string{kafka, registry, "--ingest-addr=" + p.addr("ingest"), "--ingest-admin-addr=", "--log-level=warn"}
	case "identity":
		return []string{kafka, registry, "--identity-addr=" + p.addr("identity"), "--identity-admin-addr=",
			"--identity-data-dir=" + filepath.Join(p.dir, "identity"), "--identity-snapshot-interval=1s",
			"--identity-profile-interval=200ms", "--log-level=warn"}
	case "sink":
		return []string{kafka, registry, "--clickhouse-addr=" + p.addr("ch"), "--sink-admin-addr=", "--sink-flush-interval=200ms", "--log-level=warn"}
	}
	panic(name)
}

// start runs a part and, for the infrastructure, waits until it is ready.
func (p *processes) start(name string) {
	p.t.Helper()
	binary := name
	if name == "infra" {
		binary = "cx360"
		_ = os.Remove(filepath.Join(p.dir, "ready.json"))
	}
	cmd := exec.Command(filepath.Join(p.bin, binary), p.args(name)...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", name, err)
	}
	fmt.Fprintf(p.logs, "--- started %s (pid %d)\n", name, cmd.Process.Pid)
	p.mu.Lock()
	p.running[name] = cmd
	p.mu.Unlock()
	if name != "infra" {
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(p.dir, "ready.json")); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatal("the infrastructure did not become ready")
}

// kill sends SIGKILL and reaps the process.
func (p *processes) kill(name string) {
	p.mu.Lock()
	cmd := p.running[name]
	delete(p.running, name)
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	fmt.Fprintf(p.logs, "--- killed %s with SIGKILL\n", name)
	if name == "infra" {
		// ClickHouse, its child, dies with it (Pdeathsig); wait until its
		// port is free, or the restart cannot bind it.
		for range 100 {
			if c, err := net.DialTimeout("tcp", p.addr("ch"), 100*time.Millisecond); err != nil {
				break
			} else {
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (p *processes) stopAll() {
	for _, name := range []string{"ingest", "identity", "sink", "infra"} {
		p.kill(name)
	}
}
