package normalize

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestPhone(t *testing.T) {
	tests := []struct {
		name, in, region, want string
	}{
		{"GB international with spaces", "+44 20 7946 0958", "GB", "+442079460958"},
		{"GB national", "020 7946 0958", "GB", "+442079460958"},
		{"GB national, lower-case region", "020 7946 0958", "gb", "+442079460958"},
		{"GB trunk prefix in parentheses", "+44 (0)20 7946 0958", "", "+442079460958"},
		{"GB mobile with dashes", "07911-123-456", "GB", "+447911123456"},
		{"GB via 00 prefix", "00 44 20 7946 0958", "GB", "+442079460958"},
		{"GB via US 011 prefix", "011 44 20 7946 0958", "US", "+442079460958"},
		{"US parentheses and dash", "(415) 555-2671", "US", "+14155552671"},
		{"US dots", "415.555.2671", "US", "+14155552671"},
		{"US with leading 1", "1 415 555 2671", "US", "+14155552671"},
		{"US number while default region is GB", "+1 415-555-2671", "GB", "+14155552671"},
		{"already E.164", "+14155552671", "", "+14155552671"},
		{"France from US default", "+33 1 42 68 53 00", "US", "+33142685300"},
		{"Italy keeps leading zero", "+39 06 6988 4444", "US", "+390669884444"},
		{"Japan without region", "+81 3-1234-5678", "", "+81312345678"},
		{"tel URI", "tel:+44-20-7946-0958", "", "+442079460958"},
		{"extension dropped", "+44 20 7946 0958 ext. 12", "", "+442079460958"},
		{"vanity letters", "1-800-FLOWERS", "US", "+18003569377"},
		{"surrounding whitespace", "  +44 20 7946 0958\n", "", "+442079460958"},
		{"empty", "", "GB", ""},
		{"spaces only", "   ", "GB", ""},
		{"letters", "call me", "GB", ""},
		{"country code only", "+44", "GB", ""},
		{"too short", "12", "GB", ""},
		{"national without region", "020 7946 0958", "", ""},
		{"national with unknown region", "020 7946 0958", "XX", ""},
		{"unknown country code", "+999 1234 5678", "", ""},
		{"possible but invalid: all zeros", "0000000", "GB", ""},
		{"possible but invalid: 123-456-7890", "123-456-7890", "US", ""},
		{"possible but invalid: 555-555-5555", "555-555-5555", "US", ""},
		{"Ofcom drama mobile range is not valid", "+44 7700 900123", "GB", ""},
		{"over 250 bytes", "+44 " + strings.Repeat("1", 260), "GB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Phone(tt.in, tt.region)
			if tt.want == "" {
				ne := requireCode(t, err, CodeInvalidPhone)
				if ne.Field != TypePhone {
					t.Errorf("field = %q, want %q", ne.Field, TypePhone)
				}
				if got != "" {
					t.Errorf("got %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Phone(%q, %q): %v", tt.in, tt.region, err)
			}
			if got != tt.want {
				t.Fatalf("Phone(%q, %q) = %q, want %q", tt.in, tt.region, got, tt.want)
			}
		})
	}
}

func TestPhoneCachedResultsMatchFreshParse(t *testing.T) {
	// The second call of each pair is answered from the cache; both must agree.
	for _, in := range []string{"020 7946 0958", "0000000", "not a number"} {
		first, err1 := Phone(in, "GB")
		second, err2 := Phone(in, "GB")
		if first != second || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("Phone(%q) gave %q/%v then %q/%v", in, first, err1, second, err2)
		}
	}
	// The region is part of the key: the same national digits mean different numbers.
	gb, err := Phone("020 7946 0958", "GB")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Phone("020 7946 0958", ""); err == nil {
		t.Fatalf("national number without region accepted after a GB parse gave %q", gb)
	}
}

func TestPhoneCacheBounded(t *testing.T) {
	c := newPhoneCache()
	const n = 5 * phoneCacheShards * phoneCacheShardEntries
	for i := range n {
		c.put(phoneKey{number: fmt.Sprintf("+4420%08d", i), region: "GB"}, phoneResult{e164: "+1"})
	}
	if got, max := c.len(), 2*phoneCacheShards*phoneCacheShardEntries; got > max {
		t.Fatalf("cache holds %d results, bound is %d", got, max)
	}
	// A recent entry survives the churn; a long key is never stored.
	recent := phoneKey{number: fmt.Sprintf("+4420%08d", n-1), region: "GB"}
	if _, ok := c.get(recent); !ok {
		t.Fatal("most recent entry was evicted")
	}
	long := phoneKey{number: strings.Repeat("1", maxCachedPhoneBytes+1)}
	c.put(long, phoneResult{e164: "+1"})
	if _, ok := c.get(long); ok {
		t.Fatal("over-long key was cached")
	}
}

func TestPhoneCachePromotesFromPreviousGeneration(t *testing.T) {
	c := newPhoneCache()
	hot := phoneKey{number: "+442079460958"}
	c.put(hot, phoneResult{e164: "+442079460958"})
	// Keep touching the hot key while cold keys roll every shard over many times.
	for i := range 4 * phoneCacheShards * phoneCacheShardEntries {
		c.put(phoneKey{number: fmt.Sprintf("+1415%07d", i)}, phoneResult{e164: "+1"})
		if i%1000 == 0 {
			if _, ok := c.get(hot); !ok {
				t.Fatalf("hot entry evicted after %d cold inserts", i)
			}
		}
	}
}

func TestPhoneConcurrent(t *testing.T) {
	inputs := map[string]string{
		"020 7946 0958":   "+442079460958",
		"07911 123456":    "+447911123456",
		"+1 415 555 2671": "+14155552671",
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				for in, want := range inputs {
					got, err := Phone(in, "GB")
					if err != nil || got != want {
						errs <- fmt.Errorf("goroutine %d iteration %d: Phone(%q) = %q, %v; want %q", g, i, in, got, err, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
