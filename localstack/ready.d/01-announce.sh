#!/bin/sh
# LocalStack runs this when it is ready. The resources themselves are not defined here: they come
# from infra/template.yaml, created by `localstack/init.sh` (or by `make dev`) on the host, so that
# the template stays the one definition.
echo "audit-log: LocalStack ready; run localstack/init.sh or make dev on the host to create the resources"
