package normalize

import (
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	long := strings.Repeat("a", 243) + "@example.com" // 255 bytes
	tests := []struct {
		name, in, want string
	}{
		{"already normal", "ann@example.com", "ann@example.com"},
		{"upper case everywhere", "Ann@Example.COM", "ann@example.com"},
		{"surrounding spaces and tabs", " \tAnn@Example.com \n", "ann@example.com"},
		{"plus tag and dots kept", "Ann.Lee+Shop@Mail.Example.co.uk", "ann.lee+shop@mail.example.co.uk"},
		{"unicode local part lowered", "ÅSA@Example.se", "åsa@example.se"},
		{"idn domain", "bob@Bücher.DE", "bob@bücher.de"},
		{"254 bytes", long[1:], long[1:]},
		{"empty", "", ""},
		{"only spaces", "   ", ""},
		{"no at", "ann.example.com", ""},
		{"two ats", "ann@x@example.com", ""},
		{"empty local", "@example.com", ""},
		{"empty domain", "ann@", ""},
		{"domain without dot", "ann@localhost", ""},
		{"domain starts with dot", "ann@.example.com", ""},
		{"domain ends with dot", "ann@example.com.", ""},
		{"domain double dot", "ann@example..com", ""},
		{"inner space", "ann lee@example.com", ""},
		{"inner no-break space", "ann\u00a0lee@example.com", ""},
		{"control char", "ann\x01@example.com", ""},
		{"display name", "Ann <ann@example.com>", ""},
		{"angle brackets", "<ann@example.com>", ""},
		{"mailto", "mailto:ann@example.com", ""},
		{"list", "ann@example.com,bob@example.com", ""},
		{"invalid utf8", "ann\xff@example.com", ""},
		{"255 bytes", long, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Email(tt.in)
			if tt.want == "" {
				ne := requireCode(t, err, CodeInvalidEmail)
				if ne.Field != TypeEmail {
					t.Errorf("field = %q, want %q", ne.Field, TypeEmail)
				}
				if got != "" {
					t.Errorf("got %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Email(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Email(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEmailErrorDoesNotEchoInput(t *testing.T) {
	_, err := Email("secret.person@nowhere")
	requireCode(t, err, CodeInvalidEmail)
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %q repeats the address", err)
	}
}
