#!/usr/bin/env bash
# Installs what cx360 needs on a fresh machine: the Go modules, and builds the
# binaries into ./bin. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"

ensure_go
log "Go $(go env GOVERSION | sed 's/^go//') at $(command -v go)"
log "downloading Go modules"
go mod download
log "building bin/cx360 and the services"
mkdir -p bin
go build -o bin/ ./services/...
log "setup done"
