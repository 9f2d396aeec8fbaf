package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

var update = flag.Bool("update", false, "rewrite golden files (and, with -release, the released snapshots)")
var release = flag.Bool("release", false, "with -update: snapshot the current schemas as a new released version")

func fileName(name string) string {
	return strings.ToLower(strings.TrimPrefix(name, "cx.")) + ".json"
}

// TestSchemasParse checks every top-level schema resolves to one standalone Avro schema.
func TestSchemasParse(t *testing.T) {
	for _, name := range TopLevel {
		text, err := Avro(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		codec, err := goavro.NewCodec(text)
		if err != nil {
			t.Fatalf("%s does not parse with goavro: %v", name, err)
		}
		if _, err := hamba.Parse(text); err != nil {
			t.Fatalf("%s does not parse with hamba/avro: %v", name, err)
		}
		if !strings.Contains(codec.Schema(), `"name":"`+strings.TrimPrefix(name, "cx.")) && !strings.Contains(codec.Schema(), name) {
			t.Fatalf("%s: resolved schema names another record: %s", name, codec.Schema())
		}
	}
	if _, err := Avro("cx.Nope"); err == nil {
		t.Fatal("unknown schema name resolved")
	}
}

// TestGoldenRoundTrip encodes each schema's golden datum (Avro JSON in
// testdata/golden/<name>.json) to binary, compares the bytes with the committed
// golden binary, and decodes them back to the same datum. A change to a schema
// that alters the bytes of existing data fails here.
func TestGoldenRoundTrip(t *testing.T) {
	for _, name := range TopLevel {
		t.Run(name, func(t *testing.T) {
			codec, err := goavro.NewCodec(MustAvro(name))
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join("testdata", "golden", strings.TrimSuffix(fileName(name), ".json"))
			textual, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatalf("golden datum missing: %v", err)
			}
			native, _, err := codec.NativeFromTextual(textual)
			if err != nil {
				t.Fatalf("golden datum does not fit the schema: %v", err)
			}
			bin, err := codec.BinaryFromNative(nil, native)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(base+".bin", bin, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(base + ".bin")
			if err != nil {
				t.Fatalf("golden binary missing (run go test ./schemas -update): %v", err)
			}
			if !bytes.Equal(bin, want) {
				// Maps encode in iteration order, so golden data keeps at most one entry per map.
				t.Fatalf("binary encoding changed:\n got %x\nwant %x", bin, want)
			}
			back, _, err := codec.NativeFromBinary(want)
			if err != nil {
				t.Fatal(err)
			}
			again, err := codec.TextualFromNative(nil, back)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(textual, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip changed the datum:\n got %s\nwant %s", again, textual)
			}
		})
	}
}

// TestBackwardCompatibleWithReleased fails when a schema change is not BACKWARD
// compatible with any released version (avro/released/vN/): consumers using the
// new schema must read every record written with an old one, which is the rule
// the registry enforces (DESIGN.md: compatibility BACKWARD).
func TestBackwardCompatibleWithReleased(t *testing.T) {
	versions, err := filepath.Glob(filepath.Join("avro", "released", "v*"))
	if err != nil || len(versions) == 0 {
		t.Fatalf("no released schema snapshots under avro/released: %v", err)
	}
	if *update && *release {
		dir := filepath.Join("avro", "released", "v"+strconv.Itoa(len(versions)+1))
		snapshot(t, dir)
		versions = append(versions, dir)
	}
	compat := hamba.NewSchemaCompatibility()
	for _, name := range TopLevel {
		current, err := hamba.Parse(MustAvro(name))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			b, err := os.ReadFile(filepath.Join(v, fileName(name)))
			if os.IsNotExist(err) {
				continue // not released in that version yet
			}
			if err != nil {
				t.Fatal(err)
			}
			old, err := hamba.ParseBytes(b)
			if err != nil {
				t.Fatalf("%s/%s: %v", v, fileName(name), err)
			}
			if err := compat.Compatible(current, old); err != nil {
				t.Errorf("%s is not BACKWARD compatible with released %s: %v", name, filepath.Base(v), err)
			}
		}
	}
}

func snapshot(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range TopLevel {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(MustAvro(name)), "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fileName(name)), append(pretty.Bytes(), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompatibilityCheckCatchesBreakingChange proves the guard works: removing a
// default from a field that old data lacks is refused.
func TestCompatibilityCheckCatchesBreakingChange(t *testing.T) {
	oldS := hamba.MustParse(`{"type":"record","name":"E","fields":[{"name":"a","type":"string"}]}`)
	newS := hamba.MustParse(`{"type":"record","name":"E","fields":[{"name":"a","type":"string"},{"name":"b","type":"string"}]}`)
	if err := hamba.NewSchemaCompatibility().Compatible(newS, oldS); err == nil {
		t.Fatal("a new required field without default was accepted as BACKWARD compatible")
	}
}

// modernOnly are constructs of modern ClickHouse that 18.16 lacks. Word
// boundaries keep functions like arrayMap( from matching the Map type.
var modernOnly = []struct {
	what string
	re   *regexp.Regexp
}{
	{"DateTime64", regexp.MustCompile(`\bDateTime64\b`)},
	{"the Map type", regexp.MustCompile(`\bMap\s*\(`)},
	{"TTL", regexp.MustCompile(`(?i)\bTTL\b`)},
	{"JSONExtract", regexp.MustCompile(`\bJSONExtract`)},
	{"window functions", regexp.MustCompile(`(?i)\bOVER\s*\(`)},
}

func TestClickHouseMigrationsParse(t *testing.T) {
	ms, err := ClickHouse()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations: %+v", ms)
	}
	for _, m := range ms {
		for _, st := range m.Statements {
			if strings.Contains(st, ";") || strings.Contains(st, "--") {
				t.Errorf("migration %d: statement not split cleanly: %q", m.Version, st)
			}
			for _, banned := range modernOnly {
				if banned.re.MatchString(st) {
					t.Errorf("migration %d uses %s, which ClickHouse 18.16 lacks", m.Version, banned.what)
				}
			}
		}
	}
}
