// Package realdata reads the public datasets in ../shared/data (the UCI Online
// Retail transactions and the Anonymous Bank call centre's calls) and computes
// the figures cx360's marts must answer on them — distinct customers, revenue
// and returns per month, RFM segments, contact-centre KPIs, repeat callers,
// calls by hour — straight from the raw files, in plain Go. The package's
// tests import the files through the whole pipeline (mapping → ingest →
// identity → sink → ClickHouse) and compare every figure with ClickHouse's
// answer; none of this code is shared with the pipeline, so an error on
// either side shows.
//
// The computations follow the decisions of the shipped mappings
// (schemas/mappings/online-retail.yaml and bank-calls.yaml) and the
// definitions in the queries' headers (schemas/clickhouse/queries).
package realdata

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvDataDir names the shared data directory; without it, Dir looks next to
// the repository (../shared/data) and then in /work/shared/data.
const EnvDataDir = "CX360_DATA_DIR_SHARED"

// Files of the datasets, relative to the data directory.
const (
	OnlineRetailFile = "online-retail/online-retail.csv.gz"
	RetailSampleFile = "online-retail/sample-2010-12-01.csv"
	BankCallsFile    = "callcentre-anonymous-bank/anonymous_bank_1999_02.tsv"
)

// Dir finds the shared data directory holding the datasets. The error says
// where it looked: the datasets are part of the test bed, never skipped.
func Dir() (string, error) {
	var tried []string
	try := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		_, err := os.Stat(filepath.Join(dir, OnlineRetailFile))
		return err == nil
	}
	if env := os.Getenv(EnvDataDir); env != "" {
		if try(env) {
			return env, nil
		}
		return "", fmt.Errorf("realdata: %s=%s holds no %s", EnvDataDir, env, OnlineRetailFile)
	}
	if root, err := RepoRoot(); err == nil && try(filepath.Join(root, "..", "shared", "data")) {
		return filepath.Clean(filepath.Join(root, "..", "shared", "data")), nil
	}
	if try("/work/shared/data") {
		return "/work/shared/data", nil
	}
	return "", fmt.Errorf("realdata: the shared datasets were not found (looked in %s; set %s)", strings.Join(tried, ", "), EnvDataDir)
}

// RepoRoot is the directory of cx360's go.mod, found upwards from the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("realdata: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/cx360/cx360\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("realdata: not inside the cx360 repository")
		}
		dir = parent
	}
}

// Round2 rounds as ClickHouse 18.16's round(x, 2) does on a Float64: x × 100
// rounded half away from zero, then divided (measured: 100 / 32 = 3.125
// gives 3.13, where half-to-even would give 3.12).
func Round2(x float64) float64 {
	return math.Round(x*100) / 100
}

// Num writes a float as the marts' renderer does (66.67, 100).
func Num(x float64) string {
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// Milli is an amount in thousandths of the currency unit: prices in the
// Online Retail file have at most three decimals, quantities are whole, so
// sums in Milli are exact.
type Milli int64

// ParseMilli reads a decimal with at most three fraction digits.
func ParseMilli(s string) (Milli, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if len(frac) > 3 {
		return 0, fmt.Errorf("%q has more than three decimals", s)
	}
	neg := strings.HasPrefix(whole, "-")
	w, err := strconv.ParseInt(strings.TrimPrefix(whole, "-"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal", s)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt((frac + "00")[:3], 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not a decimal", s)
		}
	}
	v := w*1000 + f
	if neg {
		v = -v
	}
	return Milli(v), nil
}

// Float is the amount in currency units.
func (m Milli) Float() float64 { return float64(m) / 1000 }
