#!/usr/bin/env bash
# Starts or stops the local AWS emulator (moto server) on 127.0.0.1:4566.
# `start` leaves an emulator that already answers there alone (LocalStack, or one started earlier)
# and records a pid only for the one it started itself, so `stop` never kills someone else's.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${EMULATOR_PORT:-4566}"
RUN_DIR=.run
PID_FILE="$RUN_DIR/moto.pid"
LOG_FILE="$RUN_DIR/moto.log"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-}" in
  start)
    if answers; then
      echo "emulator: already answering on 127.0.0.1:$PORT, using it"
      exit 0
    fi
    mkdir -p "$RUN_DIR"
    echo "emulator: starting moto server on 127.0.0.1:$PORT (log: $LOG_FILE)"
    nohup .venv/bin/moto_server -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 100); do
      if answers; then
        echo "emulator: ready"
        exit 0
      fi
      if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        echo "emulator: moto exited; see $LOG_FILE" >&2
        tail -20 "$LOG_FILE" >&2 || true
        exit 1
      fi
      sleep 0.2
    done
    echo "emulator: not answering after 20 s; see $LOG_FILE" >&2
    exit 1
    ;;
  stop)
    if [[ -f "$PID_FILE" ]]; then
      pid="$(cat "$PID_FILE")"
      if kill "$pid" 2>/dev/null; then
        # moto finishes the request in hand first; wait until the port is free, so that the next
        # `make dev` or `make test` does not find a dying emulator still answering.
        for _ in $(seq 1 50); do
          answers || break
          sleep 0.2
        done
        if answers; then
          kill -9 "$pid" 2>/dev/null || true
        fi
        echo "emulator: stopped moto ($pid)"
      fi
      rm -f "$PID_FILE"
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
