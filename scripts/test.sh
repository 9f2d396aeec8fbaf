#!/usr/bin/env bash
# Runs cx360's whole test suite: formatting, vet, and every test with the race
# detector against real parts (an in-process Kafka-protocol broker over TCP, the
# embedded schema registry over HTTP). Fuzz targets run their committed seed
# corpus here; scripts/fuzz.sh fuzzes for longer.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"

"$CX360_ROOT/scripts/setup.sh"

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cx360/*'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 -timeout 30m "${@:-./...}"
