#!/usr/bin/env bash
# The main job: install agenttrace (+ the LangKit metrics, whylogs drift and Phoenix integrations) into
# .venv, start a local Arize Phoenix (its own venv, data in .agenttrace/phoenix; skipped when
# PHOENIX_COLLECTOR_ENDPOINT or OTEL_EXPORTER_OTLP_* names a server), run the marketing demo agents
# against it over 37 simulated days (a silent model update 5 days before the end), print the Phoenix
# URL and a summary, then run `agenttrace drift` on the trajectory profiles the demo wrote: a ranked
# table, JSON + HTML reports, and the findings as annotations in Phoenix; then one pass of
# `agenttrace watch` (the incidents as de-duplicated alerts, notifying nobody).
# Extra arguments go to `agenttrace demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/venv.sh demo with-metrics
agenttrace phoenix start
agenttrace demo "$@"
echo
echo "==> agenttrace drift: the last 7 simulated days against the 30 before"
agenttrace drift --phoenix-project agenttrace-demo --profiles examples/marketing/profiles.toml --fail-on never --top 12
echo
echo "==> agenttrace watch --once: one pass of continuous detection (alerts de-duplicated in .agenttrace/alerts.sqlite; docs/watch.md)"
agenttrace watch --once --phoenix-project agenttrace-demo --no-annotate
echo
echo "Phoenix keeps running at $(agenttrace phoenix url 2>/dev/null || echo 'the URL above'); stop it with: .venv/bin/agenttrace phoenix stop"
