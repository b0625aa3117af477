#!/usr/bin/env bash
# The viewer's browser test: starts target/debug/audit-local on a free port with its own table and
# queue (so `make dev`'s data is never touched, and nothing collides with it), waits for it, installs
# the pinned playwright-core (`npm ci`), runs tests/browser against it in Debian's Chromium, and stops
# the runner it started, whatever happens. Screenshots land in target/browser/.
# Expects the emulator to answer already (`make test-browser` wraps this in scripts/with-emulator.sh).
#
# Knobs: BROWSER_LISTEN (default: a free port on 127.0.0.1), CHROMIUM (/usr/bin/chromium).
set -uo pipefail
cd "$(dirname "$0")/.."

ENDPOINT="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
RUNNER="${CARGO_TARGET_DIR:-target}/debug/audit-local"
RUN_DIR=.run
RUNNER_LOG="$RUN_DIR/browser-runner.log"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [[ ! -x $RUNNER ]]; then
  echo "test-browser: $RUNNER is missing; run \`make test-browser\`" >&2
  exit 2
fi
if [[ ! -x $CHROMIUM ]]; then
  echo "test-browser: no Chromium at $CHROMIUM; install it (apt-get install -y chromium) or set CHROMIUM" >&2
  exit 2
fi
if ! command -v npm >/dev/null; then
  echo "test-browser: npm is missing; install Node.js 20 or later" >&2
  exit 2
fi

if [[ -n ${BROWSER_LISTEN:-} ]]; then
  LISTEN="$BROWSER_LISTEN"
else
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  LISTEN="127.0.0.1:$port"
fi
NAME=test-browser
# The integrity test waits for its events to be in a signed checkpoint: sign every second.
export AUDIT_SEAL_INTERVAL_SECONDS="${AUDIT_SEAL_INTERVAL_SECONDS:-1}"
# shellcheck source=scripts/runner.sh
source scripts/runner.sh
mkdir -p target/browser
start_runner "browser-$$-$(date +%s)"

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || exit 1
echo "test-browser: runner ready; running tests/browser against http://$LISTEN"
(cd tests/browser && AUDIT_URL="http://$LISTEN" npm test)
