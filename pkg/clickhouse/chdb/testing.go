package chdb

import "testing"

// New starts an engine with its data in t.TempDir() and closes it when the test
// ends. It fails the test when chDB is not installed.
func New(t testing.TB) *Engine {
	t.Helper()
	e, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	})
	return e
}
