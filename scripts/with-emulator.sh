#!/usr/bin/env bash
# Runs a command with the emulator up, and stops the emulator afterwards if this script started it.
# Ctrl-C or a failing command still stops it. The command's exit code is this script's.
set -uo pipefail
cd "$(dirname "$0")/.."

started=0
if ! (exec 3<>"/dev/tcp/127.0.0.1/${EMULATOR_PORT:-4566}") 2>/dev/null; then
  scripts/emulator.sh start || exit 1
  started=1
else
  echo "emulator: already answering on 127.0.0.1:${EMULATOR_PORT:-4566}, using it"
fi
cleanup() { if [[ $started == 1 ]]; then scripts/emulator.sh stop; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"$@"
