# Sourced by scripts/fuzz.sh and scripts/test-browser.sh: starts target/debug/audit-local on
# $LISTEN with resources of its own (table, counters and log tables, queue, bucket, all named
# audit-<suffix>), so that `make dev`'s data is never touched, waits until it answers, and stops it on
# exit whatever happens. Needs NAME (for messages), LISTEN, RUNNER, RUNNER_LOG and ENDPOINT.

host="${LISTEN%:*}"
port="${LISTEN##*:}"
answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

# start_runner SUFFIX: returns once the runner answers; exits 1 if it does not start, 2 if the port
# is taken.
start_runner() {
  local suffix="audit-$1"
  if answers; then
    echo "$NAME: something already listens on $LISTEN; pick another address" >&2
    exit 2
  fi
  mkdir -p "$(dirname "$RUNNER_LOG")"
  echo "$NAME: starting the runner on $LISTEN (table $suffix, log: $RUNNER_LOG)"
  AUDIT_LISTEN="$LISTEN" \
    AUDIT_TABLE="$suffix" \
    AUDIT_COUNTERS_TABLE="$suffix-counters" \
    AUDIT_LOG_TABLE="$suffix-log" \
    AUDIT_CHECKPOINT_BUCKET="$suffix-checkpoints" \
    AUDIT_QUEUE_URL="$ENDPOINT/123456789012/$suffix" \
    AUDIT_AUTH=optional \
    AUDIT_LOG_FORMAT="${AUDIT_LOG_FORMAT:-text}" \
    RUST_LOG="${RUST_LOG:-warn}" \
    NO_COLOR=1 \
    "$RUNNER" >"$RUNNER_LOG" 2>&1 &
  runner=$!
  trap stop_runner EXIT
  trap 'exit 130' INT TERM
  for _ in $(seq 1 300); do
    answers && return 0
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.2
  done
  echo "$NAME: the runner did not start; see $RUNNER_LOG" >&2
  tail -20 "$RUNNER_LOG" >&2 || true
  exit 1
}

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
