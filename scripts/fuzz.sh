#!/usr/bin/env bash
# Fuzzes the API against openapi.yaml with schemathesis: starts target/debug/audit-local on its own
# port with its own table and queue (so dev data is never touched), waits for it, runs schemathesis
# with a bounded number of examples and time, and stops the runner it started, whatever happens.
# Expects the emulator to answer already (`make fuzz` wraps this in scripts/with-emulator.sh) and
# schemathesis in .venv-fuzz (`make fuzz` installs it).
#
# Knobs: FUZZ_LISTEN (127.0.0.1:3051), FUZZ_EXAMPLES (examples per operation, 100),
# FUZZ_MAX_TIME (seconds for the whole schemathesis run, 180), FUZZ_SEED (random if unset).
set -uo pipefail
cd "$(dirname "$0")/.."

LISTEN="${FUZZ_LISTEN:-127.0.0.1:3051}"
EXAMPLES="${FUZZ_EXAMPLES:-100}"
MAX_TIME="${FUZZ_MAX_TIME:-180}"
ENDPOINT="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
RUNNER="${CARGO_TARGET_DIR:-target}/debug/audit-local"
SCHEMATHESIS=.venv-fuzz/bin/schemathesis
RUN_DIR=.run
RUNNER_LOG="$RUN_DIR/fuzz-runner.log"

for tool in "$RUNNER" "$SCHEMATHESIS"; do
  if [[ ! -x $tool ]]; then
    echo "fuzz: $tool is missing; run \`make fuzz\`" >&2
    exit 2
  fi
done

NAME=fuzz
# shellcheck source=scripts/runner.sh
source scripts/runner.sh
# Names of this run only: the fuzzer's junk never lands in the dev tables. Keys are optional, so
# that keyless requests reach the handlers (a malformed key header is still refused with 401).
start_runner "fuzz-$$-$(date +%s)"
echo "fuzz: runner ready; schemathesis: $EXAMPLES examples per operation, at most ${MAX_TIME}s"

# Checks: all of them except
# - positive_data_acceptance: the schema cannot say "bytes" (a 100-character name of multi-byte
#   characters is over 100 bytes), "at most 5 minutes in the future", "to later than from", or
#   "offset at most 10,000", so schema-valid data can rightly get 422;
# - ensure_resource_availability and use_after_free: an accepted event is stored asynchronously
#   (201 means queued), so the GET that a link leads to right after a write may rightly 404;
# - ignored_auth: the runner runs with AUDIT_AUTH=optional, where a request without a key is
#   accepted on purpose.
args=(
  run ../openapi.yaml
  --url "http://$LISTEN"
  --max-examples "$EXAMPLES"
  --max-time "$MAX_TIME"
  --checks all
  --exclude-checks positive_data_acceptance,ensure_resource_availability,use_after_free,ignored_auth
  --phases examples,coverage,fuzzing,stateful
  --workers 1
  --request-timeout 10
  --report junit
  --report-dir fuzz-report
)
if [[ -n ${FUZZ_SEED:-} ]]; then
  args+=(--seed "$FUZZ_SEED")
fi
# One worker: with two, schemathesis's threads call Python's ast.parse at once (hypothesis describing
# its filters), and Python 3.11.7's parser then fails with "SystemError: AST constructor recursion
# depth mismatch", a runtime error of the tool rather than of the API (two runs of 2026-12-03 hit it).
# From .run, so that schemathesis's failure cache (.schemathesis/, for `st replay`) lands there.
(cd "$RUN_DIR" && "../$SCHEMATHESIS" "${args[@]}")
status=$?

if grep -qE '\bpanicked\b|request failed' "$RUNNER_LOG"; then
  echo "fuzz: the runner logged failures (see $RUNNER_LOG):" >&2
  grep -E '\bpanicked\b|request failed' "$RUNNER_LOG" | head -5 | cut -c1-400 >&2
  [[ $status == 0 ]] && status=1
fi
exit "$status"
