package main

import "testing"

func TestRunExitCodes(t *testing.T) {
	if code := run([]string{"-h"}); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if code := run([]string{"--kafka-brokers", "nohost"}); code != 2 {
		t.Errorf("invalid config: exit %d, want 2", code)
	}
}
