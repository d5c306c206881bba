#!/usr/bin/env bash
# Install the project into .venv and run the example agent, printing its span tree.
# With OTEL_EXPORTER_OTLP_ENDPOINT (or a Phoenix on localhost:6006) pass --otlp to export as well.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/venv.sh test
exec python examples/console_tree.py "$@"
