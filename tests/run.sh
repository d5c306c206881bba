#!/usr/bin/env bash
# Install the project and its test dependencies into .venv, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/venv.sh test with-metrics
exec python -m pytest "$@"
