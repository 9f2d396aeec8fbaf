package chtest_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/clickhouse/server"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func query(t *testing.T, addr, q string, dest ...any) error {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return conn.QueryRow(ctx, q).Scan(dest...)
}

func TestNewServerIsStoppedWhenTheTestEnds(t *testing.T) {
	var srv *server.Server
	t.Run("inner", func(t *testing.T) {
		srv = chtest.NewServer(t)
		var one uint8
		if err := query(t, srv.Addr(), "SELECT 1", &one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	})
	if srv.PID() != 0 {
		t.Fatalf("server still running (pid %d) after its test ended", srv.PID())
	}
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after the test ended", srv.Addr())
	}
}

func TestSharedServerWithADatabasePerTest(t *testing.T) {
	srv := chtest.Shared(t)
	if again := chtest.Shared(t); again != srv {
		t.Fatal("Shared started a second server")
	}
	var db string
	t.Run("inner", func(t *testing.T) {
		db = chtest.NewDatabase(t, srv)
		var n uint64
		if err := query(t, srv.Addr(), "SELECT count() FROM system.databases WHERE name = '"+db+"'", &n); err != nil || n != 1 {
			t.Fatalf("database %s: count = %d, %v", db, n, err)
		}
	})
	var n uint64
	if err := query(t, srv.Addr(), "SELECT count() FROM system.databases WHERE name = '"+db+"'", &n); err != nil || n != 0 {
		t.Fatalf("database %s not dropped after its test: count = %d, %v", db, n, err)
	}
}
