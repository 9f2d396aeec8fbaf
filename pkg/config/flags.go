// Package config holds cx360's typed configuration: defaults are named constants,
// CX360_* environment variables override them, command-line flags override the
// environment, and Validate reports every problem at start in one clear error.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix prefixes every environment variable; flag "kafka-brokers" is CX360_KAFKA_BROKERS.
const EnvPrefix = "CX360_"

// EnvName returns the environment variable that sets a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// FlagSet binds config fields to flags whose defaults come from the environment.
type FlagSet struct {
	*flag.FlagSet
	lookup func(string) (string, bool)
	errs   []error
	names  []string
}

// NewFlagSet returns a FlagSet reading the environment through lookup (os.LookupEnv in main).
func NewFlagSet(name string, lookup func(string) (string, bool)) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &FlagSet{FlagSet: fs, lookup: lookup}
}

// Names lists every bound flag (used to check that deployment files name real keys).
func (f *FlagSet) Names() []string { return f.names }

func (f *FlagSet) env(name string) (string, bool) {
	f.names = append(f.names, name)
	return f.lookup(EnvName(name))
}

func usage(name, text string) string { return fmt.Sprintf("%s (env %s)", text, EnvName(name)) }

func (f *FlagSet) badEnv(name, val string, err error) {
	f.errs = append(f.errs, fmt.Errorf("%s=%q: %w", EnvName(name), val, err))
}

// String binds a string.
func (f *FlagSet) String(p *string, name, def, text string) {
	if v, ok := f.env(name); ok {
		def = v
	}
	f.StringVar(p, name, def, usage(name, text))
}

// Int binds an int.
func (f *FlagSet) Int(p *int, name string, def int, text string) {
	if v, ok := f.env(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.badEnv(name, v, err)
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, usage(name, text))
}

// Int64 binds an int64.
func (f *FlagSet) Int64(p *int64, name string, def int64, text string) {
	if v, ok := f.env(name); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.badEnv(name, v, err)
		} else {
			def = n
		}
	}
	f.Int64Var(p, name, def, usage(name, text))
}

// Bool binds a bool.
func (f *FlagSet) Bool(p *bool, name string, def bool, text string) {
	if v, ok := f.env(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.badEnv(name, v, err)
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage(name, text))
}

// Duration binds a time.Duration ("500ms", "10m").
func (f *FlagSet) Duration(p *time.Duration, name string, def time.Duration, text string) {
	if v, ok := f.env(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.badEnv(name, v, err)
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage(name, text))
}

// List binds a comma-separated list.
func (f *FlagSet) List(p *[]string, name string, def []string, text string) {
	if v, ok := f.env(name); ok {
		def = splitList(v)
	}
	*p = def
	f.Func(name, usage(name, text+" (comma-separated; default "+strings.Join(def, ",")+")"), func(s string) error {
		*p = splitList(s)
		return nil
	})
}

// Parse parses args; errors from the environment are reported here too.
func (f *FlagSet) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	return errors.Join(f.errs...)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
