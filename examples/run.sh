#!/usr/bin/env bash
# The main job: install agenttrace (+ the LangKit metrics, whylogs drift and Phoenix integrations) into
# .venv, start a local Arize Phoenix (its own venv, data in .agenttrace/phoenix; skipped when
# PHOENIX_COLLECTOR_ENDPOINT or OTEL_EXPORTER_OTLP_* names a server), run the marketing demo agents
# against it over 37 simulated days (a silent model update 5 days before the end), print the Phoenix
# URL and a summary, then run `agenttrace drift` on the trajectory profiles the demo wrote: a ranked
# table, JSON + HTML reports, and the findings as annotations in Phoenix; then one pass of
# `agenttrace watch` (the incidents as de-duplicated alerts, notifying nobody); then the golden suite:
# 24 e-mail runs from before the alias update as a Phoenix dataset, the e-mail agent run on it 3 times
# per example pinned to the old and to the new model version (two Phoenix experiments), and
# `agenttrace golden compare`, whose gates fail (exit 1, the expected verdict): the new version hedges
# and softens the offers' deadlines. Extra arguments go to `agenttrace demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/venv.sh demo with-metrics
agenttrace phoenix start
# the alias update comes 5 simulated days before the end of the demo (its default): every run that
# ended before this moment (taken before the demo starts) was answered by the old version
UNTIL="$(date -u -d '5 days ago' +%Y-%m-%dT%H:%M:%S)"
agenttrace demo "$@"
echo
echo "==> agenttrace drift: the last 7 simulated days against the 30 before"
agenttrace drift --phoenix-project agenttrace-demo --profiles examples/marketing/profiles.toml --fail-on never --top 12 \
  --config examples/marketing/agenttrace.toml
echo
echo "==> agenttrace watch --once: one pass of continuous detection (alerts de-duplicated in .agenttrace/alerts.sqlite; docs/watch.md)"
agenttrace watch --once --phoenix-project agenttrace-demo --no-annotate
echo
OLD=gpt-4o-mini-2024-07-18 NEW=gpt-4o-mini-2026-11-05
SUITE="email-suite-$(date -u +%Y%m%dT%H%M%S)"  # a new Phoenix dataset each time (an existing name is refused)
GOLDEN=(--agent agenttrace_examples.marketing.golden:email_agent --repeat 3 --profiles examples/marketing/profiles.toml)
echo "==> agenttrace golden: a 24-example suite of e-mail runs from before the alias update, run on $OLD and on $NEW (docs/golden.md)"
agenttrace golden create "$SUITE" --from-phoenix agenttrace-demo --agent email-personalizer --size 24 --until "$UNTIL"
agenttrace golden run "$SUITE" "${GOLDEN[@]}" --model-override "gpt-4o-mini=$OLD" --run-name "$OLD" 2>/dev/null
agenttrace golden run "$SUITE" "${GOLDEN[@]}" --model-override "gpt-4o-mini=$NEW" --run-name "$NEW" 2>/dev/null
echo
echo "==> agenttrace golden compare: the new version against the old one, with gates"
status=0
agenttrace golden compare "$OLD" "$NEW" --suite "$SUITE" --gate 'judge.hedging>=0.7' --gate 'judge.urgency_kept>=0.9' \
  --gate 'refusal_rate<=0.05' --max-score-shift 0.15 --shift-exclude latency_ms || status=$?
if [ "$status" -eq 1 ]; then
  echo "golden compare exited 1: the expected verdict — $NEW hedges and softens the offers' deadlines, so its gates fail"
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
echo
echo "Phoenix keeps running at $(agenttrace phoenix url 2>/dev/null || echo 'the URL above'); stop it with: .venv/bin/agenttrace phoenix stop"
