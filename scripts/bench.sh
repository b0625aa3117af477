#!/usr/bin/env bash
# `make bench`: every benchmark in one run, against the emulator, printing its figures (and saving
# them to .run/bench.txt). Nothing here is a test: figures are reported, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
# moto answers a GSI query by reading the whole table, so at 100k events one query takes seconds.
export RUST_LOG=warn AUDIT_LOG_FORMAT=text AUDIT_SDK_TIMEOUT_SECONDS=300
EVENTS="${BENCH_DRAIN_EVENTS:-5000}"
# Pages are read at 1,000 and 30,000 events: moto answers every GSI query by reading the whole
# table, so at 100k one page takes minutes there (a full run over 40). What total_records reads is
# also measured alone at 100,000 (BENCH_COUNT_ONLY; empty skips it), which the emulator serves fast.
LARGE="${BENCH_READS_LARGE:-30000}"
COUNT_ONLY="${BENCH_COUNT_ONLY-100000}"
RUNS="${BENCH_INIT_RUNS:-20}"

{
  echo "# make bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, emulator $AWS_ENDPOINT_URL"
  echo
  echo "## drain throughput against raw BatchWriteItem, and write units per event"
  target/release/bench-drain "$EVENTS" 3
  echo
  echo "## read cost per page, and what total_records reads"
  target/release/bench-reads 1000 "$LARGE" $COUNT_ONLY
  echo
  echo "## write units per event that the counters add"
  target/release/bench-counters "${BENCH_COUNTERS_EVENTS:-3000}"
  echo
  echo "## sealing"
  # Write units the seal adds per event (1 tenant, and each batch over 10 tenants), verify's
  # throughput at 1,000 and 30,000 events, items read and answer size per proof.
  target/release/bench-seal "${BENCH_SEAL_EVENTS:-30000}" 1000 "${BENCH_SEAL_SPREAD:-30000}"
  echo
  echo "## export throughput beside a cursor walk of /api/read"
  target/release/bench-export "${BENCH_EXPORT_EVENTS:-5000}"
  echo
  echo "## the viewer's first page at 30,000 events (Chromium)"
  scripts/bench-viewer.sh
  echo
  echo "## init time (process start to first /invocation/next) and first answer, against hello-world"
  # The functions' first answers need their table and queue to exist.
  export AUDIT_TABLE=bench-init-events AUDIT_QUEUE_URL="$AWS_ENDPOINT_URL/123456789012/bench-init-events"
  target/release/audit-local bootstrap 2>/dev/null
  AUDIT_AUTH=optional target/release/bench-init "$RUNS" \
    hello=target/release/hello \
    write=target/release/write:events/write-valid.json \
    read=target/release/read:events/read-filters.json \
    drain=target/release/drain:events/sqs-batch.json
  echo
  echo "## release arm64 bootstrap sizes (make package)"
  for f in write drain read; do
    if [[ -f target/lambda/$f/bootstrap ]]; then
      printf '%-6s %9d bytes\n' "$f" "$(stat -c %s "target/lambda/$f/bootstrap")"
    else
      echo "$f: not built; run make package"
    fi
  done
# Everything reaches the terminal, seeding progress included; the saved figures leave that out.
} 2>&1 | tee /dev/stderr | grep -v 'seeding' > .run/bench.txt
