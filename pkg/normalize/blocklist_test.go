package normalize

import (
	"strings"
	"testing"
)

func TestDefaultBlocklist(t *testing.T) {
	b, err := NewBlocklist(DefaultBlocklistRules())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		idType, value string
		want          bool
	}{
		{"email", "test@test.com", true},
		{"email", "TEST@Test.com", true},
		{"email", "example@example.com", true},
		{"email", "ann@example.com", false},
		{"user_id", "null", true},
		{"user_id", "NULL", true},
		{"user_id", " None ", true},
		{"loyalty_id", "n/a", true},
		{"loyalty_id", "N/A", true},
		{"anonymous_id", "anonymous", true},
		{"device_id", "undefined", true},
		{"device_id", "unknown", true},
		{"user_id", "[object Object]", true},
		{"user_id", "", true},
		{"user_id", "0", true},
		{"user_id", "-", true},
		{"user_id", "000-000", true},
		{"user_id", "00000000-0000-0000-0000-000000000000", true},
		{"user_id", "100", false},
		{"user_id", "u-0", false},
		{"user_id", "nullable", false},
		{"custom_type", "none", true},
		{"phone", "+442079460958", false},
		{"phone", "+440000000000", true}, // national number all zeros
		{"phone", "+15555555555", true},  // national number one repeated digit
		{"phone", "+447777777777", true},
		{"phone", "+447777777778", false},
		{"user_id", "5555555555", false}, // the repeated-digit rule is for phones only
	}
	for _, tt := range tests {
		if got := b.Blocked(tt.idType, tt.value); got != tt.want {
			t.Errorf("Blocked(%q, %q) = %v, want %v", tt.idType, tt.value, got, tt.want)
		}
	}
}

func TestBlocklistRules(t *testing.T) {
	b, err := NewBlocklist([]BlocklistRule{
		{Type: "email", Exact: "Front.Desk@Shop.com"},
		{Type: "phone", Exact: "+44 20 7946 0000"},
		{Type: "phone", Exact: "2079460001"},
		{Type: "Device_ID", Regex: `^store-ipad-\d+$`},
		{Type: "*", Regex: `^test-`},
		{Exact: "walk-in"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		idType, value string
		want          bool
	}{
		{"email", "front.desk@shop.com", true},
		{"email", "frontdesk@shop.com", false},
		{"loyalty_id", "front.desk@shop.com", false}, // typed rule
		{"phone", "+442079460000", true},             // rule value normalised
		{"phone", "+442079460001", true},             // national number form
		{"phone", "+442079460002", false},
		{"device_id", "store-ipad-12", true},
		{"device_id", "STORE-IPAD-12", true}, // regexes ignore case
		{"DEVICE_ID", "store-ipad-12", true}, // types ignore case
		{"device_id", "store-ipad-12b", false},
		{"anonymous_id", "store-ipad-12", false},
		{"device_id", "test-1", true}, // typed type still gets any-type rules
		{"user_id", "TEST-1", true},
		{"user_id", "my-test-1", false},
		{"user_id", "Walk-In", true},
		{"user_id", "walk-in-2", false},
		{"email", "null", false}, // defaults are not implied
	}
	for _, tt := range tests {
		if got := b.Blocked(tt.idType, tt.value); got != tt.want {
			t.Errorf("Blocked(%q, %q) = %v, want %v", tt.idType, tt.value, got, tt.want)
		}
	}
}

func TestNewBlocklistErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []BlocklistRule
		want  []string
	}{
		{"bad regex names the rule", []BlocklistRule{{Exact: "x"}, {Type: "email", Regex: `(unclosed`}}, []string{"rule 1", "email", "(unclosed"}},
		{"empty rule", []BlocklistRule{{Type: "phone"}}, []string{"rule 0", "exact or regex"}},
		{"both set", []BlocklistRule{{Exact: "a", Regex: "b"}}, []string{"rule 0", "not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBlocklist(tt.rules)
			if err == nil {
				t.Fatalf("NewBlocklist accepted %+v", tt.rules)
			}
			if b != nil {
				t.Errorf("got a blocklist with the error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEmptyAndNilBlocklist(t *testing.T) {
	empty, err := NewBlocklist(nil)
	if err != nil {
		t.Fatal(err)
	}
	var none *Blocklist
	for _, b := range []*Blocklist{empty, none} {
		if b.Blocked("user_id", "null") || b.Blocked("phone", "+440000000000") {
			t.Fatal("a blocklist without rules blocked a value")
		}
	}
}

func TestDefaultBlocklistRulesIsAFreshCopy(t *testing.T) {
	r := DefaultBlocklistRules()
	r[0] = BlocklistRule{Exact: "changed"}
	if DefaultBlocklistRules()[0].Regex != `^[0-]*$` {
		t.Fatal("DefaultBlocklistRules shares its slice between callers")
	}
}
