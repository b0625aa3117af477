#!/usr/bin/env bash
# `make watch`: the whole service on 127.0.0.1:3050, as `make dev` runs it, but with every function
# (write, read, drain, count, seal) run by `cargo lambda watch`, which rebuilds and restarts a
# function when its code changes. `audit-local watch` creates the resources, serves the API and
# runs the queue and stream mappings and the checkpoint schedule, invoking the functions through
# cargo lambda's invoke endpoint. Both share this environment, so they name the same resources.
# Ctrl-C stops both. Expects the emulator to answer (the Makefile wraps this in with-emulator.sh).
#
# Knobs: AUDIT_WATCH_INVOKE_PORT (9000), AUDIT_LISTEN (127.0.0.1:3050).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
port="${AUDIT_WATCH_INVOKE_PORT:-9000}"
mkdir -p .run

cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" &
lambda=$!
stop() { kill "$lambda" 2>/dev/null; wait "$lambda" 2>/dev/null; }
trap stop EXIT
trap 'exit 130' INT TERM

AUDIT_LOCAL_INVOKE_URL="http://127.0.0.1:$port" "${CARGO_TARGET_DIR:-target}/debug/audit-local" watch
