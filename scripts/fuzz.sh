#!/usr/bin/env bash
# Fuzzes every parser of untrusted input for FUZZTIME each (default 30s).
# New crashers land in the package's testdata/fuzz and become regression tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"
ensure_go
FUZZTIME=${FUZZTIME:-30s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
		log "fuzzing $pkg $target for $FUZZTIME"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg"
	done
done
