# Shared helpers for cx360's scripts. Source it; do not run it.
# shellcheck shell=bash

CX360_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CX360_ROOT

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# ensure_go puts a Go toolchain new enough for go.mod on PATH, or explains how to get one.
ensure_go() {
	if ! command -v go >/dev/null 2>&1; then
		for d in /usr/local/go/bin "$HOME/go/bin" /usr/lib/go/bin; do
			if [ -x "$d/go" ]; then export PATH="$d:$PATH"; break; fi
		done
	fi
	command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go $(want_go) or newer (https://go.dev/dl) and run this again."
	local have want
	have=$(go env GOVERSION | sed 's/^go//')
	want=$(want_go)
	if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
		die "Go $have is too old; cx360 needs Go $want or newer."
	fi
	export PATH="$(go env GOPATH)/bin:$PATH"
}

want_go() { awk '/^go /{print $2; exit}' "$CX360_ROOT/go.mod"; }

# as_root runs a command as root (directly, or through sudo when available).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else die "need root to run: $*"; fi
}

# clickhouse_installed tells whether a ClickHouse server binary is on this machine
# (Debian puts clickhouse-server in /usr/sbin, which a non-root PATH may lack).
clickhouse_installed() {
	command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1 ||
		[ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse-server ]
}

# clickhouse_version prints the installed ClickHouse version, as its client reports it.
clickhouse_version() {
	local v
	if command -v clickhouse-client >/dev/null 2>&1; then
		v=$(clickhouse-client --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+)+' | head -1)
	elif command -v clickhouse >/dev/null 2>&1; then
		v=$(clickhouse client --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+)+' | head -1)
	fi
	echo "${v:-unknown}"
}

# ensure_clickhouse installs Debian's clickhouse-server and clickhouse-client when missing.
# cx360 starts its own server (pkg/clickhouse/server) on 127.0.0.1 with its data under the
# data dir, so the package's system-wide service must not run and hold ports 9000/8123: a
# policy-rc.d that answers 101 ("action forbidden") keeps the package's postinst from
# starting it, and the service is then disabled for later boots.
ensure_clickhouse() {
	clickhouse_installed && return 0
	log "installing clickhouse-server and clickhouse-client (Debian packages)"
	local policy=/usr/sbin/policy-rc.d saved=""
	if [ -e "$policy" ]; then
		saved=$(mktemp)
		as_root cp -p "$policy" "$saved"
	fi
	printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
	as_root chmod 755 "$policy"
	local rc=0 out
	out=$(mktemp)
	{
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
				clickhouse-server clickhouse-client
	} >"$out" 2>&1 || rc=$?
	if [ -n "$saved" ]; then as_root mv "$saved" "$policy"; else as_root rm -f "$policy"; fi
	if [ "$rc" -ne 0 ]; then
		cat "$out" >&2
		rm -f "$out"
		die "installing clickhouse-server failed (apt-get exit $rc)"
	fi
	rm -f "$out"
	disable_system_clickhouse
	clickhouse_installed || die "clickhouse-server was installed but no server binary is on PATH"
}

# disable_system_clickhouse keeps the package's own service from running now or at
# boot, so only the servers cx360 starts (each with its own config and ports) run
# here. It never calls the init script's stop, which kills every clickhouse-server
# process on the machine, cx360's own included.
disable_system_clickhouse() {
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		# Unit-scoped: stops only the service's own process.
		as_root systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1 && [ -x /etc/init.d/clickhouse-server ]; then
		as_root update-rc.d clickhouse-server disable >/dev/null 2>&1 || true
	fi
}

# chromium_bin prints the path of Debian's Chromium, or nothing when it is missing.
chromium_bin() {
	command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true
}

# ensure_chromium installs Debian's chromium when missing: the report test
# (pkg/report) renders cx360's HTML report in headless Chromium and checks the
# page it draws.
ensure_chromium() {
	[ -n "$(chromium_bin)" ] && return 0
	log "installing chromium (Debian package, for the report test)"
	local out
	out=$(mktemp)
	if ! {
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
	} >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		die "installing chromium failed; install Debian's chromium and run this again"
	fi
	rm -f "$out"
	[ -n "$(chromium_bin)" ] || die "chromium was installed but is not on PATH"
}

# CHDB_DIR holds the Node program that serves chDB (modern ClickHouse as a library,
# from the npm package chdb) to the Go tests in pkg/clickhouse/chdb.
CHDB_DIR="$CX360_ROOT/tools/chdb"

# ensure_node puts Node.js 18+ and npm on PATH, installing Debian's nodejs and npm
# when node is missing.
ensure_node() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		log "installing nodejs and npm (Debian packages)"
		local out
		out=$(mktemp)
		if ! {
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
				as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
		} >"$out" 2>&1; then
			cat "$out" >&2
			rm -f "$out"
			die "installing nodejs and npm failed; install Node.js 18 or newer with npm and run this again"
		fi
		rm -f "$out"
	fi
	command -v node >/dev/null 2>&1 || die "nodejs was installed but node is not on PATH"
	command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install npm (Debian package npm) and run this again"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	[ "$major" -ge 18 ] || die "Node.js $(node --version) is too old; chDB needs Node.js 18 or newer"
}

# chdb_lock_sum prints the checksum of tools/chdb/package-lock.json; ensure_chdb
# keeps the one node_modules was installed from, to reinstall when the lock changes.
chdb_lock_sum() { sha256sum "$CHDB_DIR/package-lock.json" | cut -d' ' -f1; }

# ensure_chdb installs tools/chdb's locked npm packages (chdb and the native engine
# @chdb/lib-linux-x64-gnu, ~550 MB) with `npm ci` when node_modules is missing or
# was installed from another package-lock.json. --ignore-scripts: the engine ships
# inside the npm package, so nothing needs to run (or download) at install time.
ensure_chdb() {
	ensure_node
	local stamp="$CHDB_DIR/node_modules/.cx360-lock.sha256"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(chdb_lock_sum)" ]; then
		return 0
	fi
	log "installing chDB (npm ci in tools/chdb)"
	local out
	out=$(mktemp)
	if ! (cd "$CHDB_DIR" && npm ci --no-audit --no-fund --ignore-scripts) >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		die "npm ci in tools/chdb failed"
	fi
	rm -f "$out"
	chdb_lock_sum >"$stamp"
}

# chdb_version prints the ClickHouse version of the installed chDB engine.
chdb_version() {
	(cd "$CHDB_DIR" && node -e 'process.stdout.write(require("chdb").query("SELECT version()", "TabSeparated").trim())' </dev/null 2>/dev/null) || echo unknown
}
