#!/usr/bin/env bash
# Install the oldest Airflow this package supports (setup.cfg: apache-airflow>=3.2) into ./.venv-oldest:
# the base install of this package (editable, no extra: DuckDB and SQLite only) and pytest, every version
# pinned by scripts/oldest-airflow-constraints.txt. For the smoke tests (scripts/smoke_oldest.sh).
# Idempotent: a second run with nothing changed takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv-oldest/bin/python ] || "$PYTHON" -m venv .venv-oldest
.venv-oldest/bin/pip install -q --upgrade pip >/dev/null
.venv-oldest/bin/pip install -q -c scripts/oldest-airflow-constraints.txt -e . pytest pytest-timeout
echo "installed Airflow $(.venv-oldest/bin/python -c 'import airflow; print(airflow.__version__)') into $(pwd)/.venv-oldest"
