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
