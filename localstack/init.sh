#!/usr/bin/env bash
# Waits for LocalStack's SQS and DynamoDB, then creates the audit log's table, indexes, queue and
# DLQ from infra/template.yaml, using the same bootstrap code as `make dev`.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
# LocalStack's default account id.
export AUDIT_QUEUE_URL="${AUDIT_QUEUE_URL:-$AWS_ENDPOINT_URL/000000000000/audit-log-events}"

echo "waiting for LocalStack at $AWS_ENDPOINT_URL ..."
for _ in $(seq 1 60); do
  if curl -sf "$AWS_ENDPOINT_URL/_localstack/health" | grep -q '"dynamodb": "\(available\|running\)"'; then
    break
  fi
  sleep 1
done
cargo run --quiet -p audit-local -- bootstrap
echo "ready: now run 'make dev' (it will use LocalStack instead of starting moto)"
