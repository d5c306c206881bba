#!/usr/bin/env bash
# The main job: install agenttrace (+ the LangKit metrics and the Phoenix integration) into .venv,
# start a local Arize Phoenix (its own venv, data in .agenttrace/phoenix; skipped when
# PHOENIX_COLLECTOR_ENDPOINT or OTEL_EXPORTER_OTLP_* names a server), run the marketing demo agents
# against it, and print the Phoenix URL and a summary. Extra arguments go to `agenttrace demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/venv.sh demo with-metrics
agenttrace phoenix start
agenttrace demo "$@"
echo
echo "Phoenix keeps running; stop it with: .venv/bin/agenttrace phoenix stop"
