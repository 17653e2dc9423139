#!/usr/bin/env bash
# The smoke tests (pytest -m smoke: plugin and provider load, a generated DAG parses and runs with
# `airflow dags test` from DuckDB into SQLite, the REST API mounts in the API server) on the oldest
# Airflow this package supports, from its base install: scripts/install_oldest.sh, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_oldest.sh
# only the modules holding smoke tests: the others import what the base install lacks (test tools, drivers)
.venv-oldest/bin/pytest -q -p no:cacheprovider -m smoke tests/smoke tests/test_packaging.py "$@"
