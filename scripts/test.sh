#!/usr/bin/env bash
# Install, then lint (ruff), type-check (mypy) and run the whole test suite against the live
# PostgreSQL and MariaDB servers. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check airflow_provider_tagoffline tests bench dags
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
