#!/usr/bin/env bash
# The viewer's first page at 30,000 events (BENCH_VIEWER_EVENTS): starts target/release/audit-local
# (else target/debug) on a free port with its own tables, seeds the events through the API, and
# measures page loads in Chromium (tests/browser/first-paint.mjs): requests, bytes, first contentful
# paint, first rows. Part of `make bench`; expects the emulator to answer already.
set -uo pipefail
cd "$(dirname "$0")/.."

ENDPOINT="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
RUNNER="${CARGO_TARGET_DIR:-target}/release/audit-local"
[[ -x $RUNNER ]] || RUNNER="${CARGO_TARGET_DIR:-target}/debug/audit-local"
RUN_DIR=.run
RUNNER_LOG="$RUN_DIR/bench-viewer-runner.log"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x $CHROMIUM ]] || ! command -v npm >/dev/null; then
  echo "bench-viewer: needs Chromium at $CHROMIUM and npm (see make test-browser); skipped"
  exit 0
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LISTEN="127.0.0.1:$port"
NAME=bench-viewer
# shellcheck source=scripts/runner.sh
source scripts/runner.sh
start_runner "bench-viewer-$$-$(date +%s)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || exit 1
echo "runner: $RUNNER"
(cd tests/browser && AUDIT_URL="http://$LISTEN" BENCH_EVENTS="${BENCH_VIEWER_EVENTS:-30000}" node first-paint.mjs)
