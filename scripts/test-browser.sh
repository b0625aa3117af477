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
host="${LISTEN%:*}"
port="${LISTEN##*:}"
answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
if answers; then
  echo "test-browser: something already listens on $LISTEN; set BROWSER_LISTEN to a free address" >&2
  exit 2
fi

suffix="browser-$$-$(date +%s)"
mkdir -p "$RUN_DIR" target/browser
echo "test-browser: starting the runner on $LISTEN (table audit-$suffix, log: $RUNNER_LOG)"
AUDIT_LISTEN="$LISTEN" \
  AUDIT_TABLE="audit-$suffix" \
  AUDIT_COUNTERS_TABLE="audit-$suffix-counters" \
  AUDIT_QUEUE_URL="$ENDPOINT/123456789012/audit-$suffix" \
  AUDIT_AUTH=optional \
  AUDIT_LOG_FORMAT="${AUDIT_LOG_FORMAT:-text}" \
  RUST_LOG="${RUST_LOG:-warn}" \
  NO_COLOR=1 \
  "$RUNNER" >"$RUNNER_LOG" 2>&1 &
runner=$!

stop_runner() {
  if kill -0 "$runner" 2>/dev/null; then
    kill -INT "$runner" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$runner" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$runner" 2>/dev/null || true
  fi
  wait "$runner" 2>/dev/null || true
}
trap stop_runner EXIT
trap 'exit 130' INT TERM

ready=0
for _ in $(seq 1 300); do
  if answers; then
    ready=1
    break
  fi
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.2
done
if [[ $ready != 1 ]]; then
  echo "test-browser: the runner did not start; see $RUNNER_LOG" >&2
  tail -20 "$RUNNER_LOG" >&2 || true
  exit 1
fi

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || exit 1
echo "test-browser: runner ready; running tests/browser against http://$LISTEN"
(cd tests/browser && AUDIT_URL="http://$LISTEN" npm test)
