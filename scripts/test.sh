#!/usr/bin/env bash
# The one test command (README "Test it"; CI runs exactly this through .ci/run).
# Sets up everything on a fresh machine: redis-server if missing, a virtual environment with the project
# and its dev tools, then ruff, mypy (strict on core/, bots/ and bench/) and pytest. Exits non-zero on
# any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n==> %s\n' "$*"; }

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server (Debian package; the tests start their own throwaway server)"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "dolphin-relay needs Python >= 3.11" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PY"
  "$PY" -m venv .venv
fi
log "installing the project and its dev tools"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

log "mypy (strict on core/, bots/ and bench/)"
.venv/bin/mypy

log "pytest"
set +e
.venv/bin/pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
