# Sourced by examples/run.sh and tests/run.sh: create .venv (once) and install the project into it.
# Usage: . .ci/venv.sh EXTRAS      (e.g. "test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AGENTTRACE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
fi
echo "==> installing agenttrace[$1] into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$1]" 2>&1 | grep -v -e "is ignored" -e "^\s*$" || true
"$VENV/bin/python" -c "import agenttrace" || { echo "installation failed" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
