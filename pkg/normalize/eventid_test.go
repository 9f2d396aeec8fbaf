package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

func TestEventID(t *testing.T) {
	body := []byte(`{"type":"purchase","timestamp":"2026-11-02T10:15:00Z"}`)
	id := EventID("store", body)

	sum := sha256.Sum256(append([]byte("store\x00"), body...))
	if want := "h-" + hex.EncodeToString(sum[:16]); id != want {
		t.Fatalf("EventID = %q, want %q", id, want)
	}
	if !regexp.MustCompile(`^h-[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("EventID %q has the wrong shape", id)
	}
	if again := EventID("store", append([]byte(nil), body...)); again != id {
		t.Fatalf("same input gave %q then %q", id, again)
	}
	for name, other := range map[string]string{
		"other channel": EventID("web", body),
		"other body":    EventID("store", []byte(`{"type":"purchase","timestamp":"2026-11-02T10:15:01Z"}`)),
		"separator":     EventID("stor", append([]byte("e"), body...)),
		"empty body":    EventID("store", nil),
	} {
		if other == id {
			t.Errorf("%s: id collides with %q", name, id)
		}
	}
}
