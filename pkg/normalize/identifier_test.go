package normalize

import (
	"strings"
	"testing"
)

func TestIdentifier(t *testing.T) {
	tests := []struct {
		name, idType, in, region, want, code string
	}{
		{"email is lowered", "email", " Ann@Example.com ", "", "ann@example.com", ""},
		{"bad email", "email", "ann", "", "", CodeInvalidEmail},
		{"phone to E.164", "phone", "020 7946 0958", "GB", "+442079460958", ""},
		{"bad phone", "phone", "12", "GB", "", CodeInvalidPhone},
		{"user_id trimmed, case kept", "user_id", "  U-9 ", "", "U-9", ""},
		{"loyalty id", "loyalty_id", "L-77", "", "L-77", ""},
		{"custom type allowed", "crm_contact_id", "0031x00000AbCdE", "", "0031x00000AbCdE", ""},
		{"inner spaces kept", "device_id", "Ann's iPad", "", "Ann's iPad", ""},
		{"unicode kept", "user_id", "ünïcødé-ユーザー", "", "ünïcødé-ユーザー", ""},
		{"256 bytes", "user_id", strings.Repeat("x", 256), "", strings.Repeat("x", 256), ""},
		{"257 bytes", "user_id", strings.Repeat("x", 257), "", "", CodeInvalidIdentifier},
		{"empty", "user_id", "", "", "", CodeInvalidIdentifier},
		{"blank", "anonymous_id", " \t ", "", "", CodeInvalidIdentifier},
		{"control char", "user_id", "u\x00-9", "", "", CodeInvalidIdentifier},
		{"DEL", "user_id", "u\x7f9", "", "", CodeInvalidIdentifier},
		{"C1 control", "user_id", "u\u00859x", "", "", CodeInvalidIdentifier},
		{"invalid utf8", "user_id", "u\xc3", "", "", CodeInvalidIdentifier},
		{"type is case-sensitive: Email is a custom type", "Email", "Ann", "", "Ann", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Identifier(tt.idType, tt.in, tt.region)
			if tt.code != "" {
				ne := requireCode(t, err, tt.code)
				if ne.Field != tt.idType {
					t.Errorf("field = %q, want %q", ne.Field, tt.idType)
				}
				return
			}
			if err != nil {
				t.Fatalf("Identifier(%q, %q): %v", tt.idType, tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Identifier(%q, %q) = %q, want %q", tt.idType, tt.in, got, tt.want)
			}
		})
	}
}

func TestIdentifierErrorNamesType(t *testing.T) {
	_, err := Identifier("loyalty_id", "", "")
	if ne := requireCode(t, err, CodeInvalidIdentifier); !strings.HasPrefix(ne.Message, "loyalty_id ") {
		t.Fatalf("message %q does not name the type", ne.Message)
	}
}
