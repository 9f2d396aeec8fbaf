package clickhouse_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/clickhouse/server"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// testCtx is a context that ends with the test, bounded so a hang fails fast.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openClient opens a Client on srv with database db as its default.
func openClient(t testing.TB, srv *server.Server, db string) *clickhouse.Client {
	t.Helper()
	c, err := clickhouse.Open(testCtx(t), clickhouse.Options{Addr: srv.Addr(), Database: db, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sharedClient opens a client on the package's shared server, in a fresh database.
func sharedClient(t testing.TB) (*clickhouse.Client, string) {
	t.Helper()
	srv := chtest.Shared(t)
	db := chtest.NewDatabase(t, srv)
	return openClient(t, srv, db), db
}
