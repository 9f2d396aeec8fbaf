package normalize

import (
	"errors"
	"testing"
)

// requireCode asserts err is a *Error with the wanted code and a message.
func requireCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	var ne *Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %v (%T) is not a *normalize.Error", err, err)
	}
	if ne.Code != code {
		t.Fatalf("code = %q, want %q (error %v)", ne.Code, code, err)
	}
	if ne.Message == "" {
		t.Fatalf("error %+v has no message", ne)
	}
	return ne
}
