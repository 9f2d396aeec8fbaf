#!/usr/bin/env bash
# Installs what cx360 needs on a fresh machine: the Go modules, a local ClickHouse
# server (Debian's clickhouse-server, used by tests and `cx360 dev`), and builds the
# binaries into ./bin. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"

ensure_go
log "Go $(go env GOVERSION | sed 's/^go//') at $(command -v go)"
ensure_clickhouse
log "ClickHouse $(clickhouse_version)"
# chDB: modern ClickHouse as a library (npm), which tests check cx360's SQL against.
ensure_chdb
log "chDB (ClickHouse $(chdb_version)) in tools/chdb"
ensure_chromium # the report test (pkg/report) opens the HTML report in headless Chromium
log "downloading Go modules"
go mod download
log "building bin/cx360 and the services"
mkdir -p bin
go build -o bin/ ./services/...
log "setup done"
