#!/usr/bin/env bash
# Install, then lint (ruff), type-check (mypy) and run the whole test suite against the live
# PostgreSQL and MariaDB servers; then the smoke tests (-m smoke) again on the oldest Airflow this
# package supports, from its base install in .venv-oldest (scripts/smoke_oldest.sh). Exits non-zero
# on any failure. Arguments go to the main suite's pytest; with arguments (a selection), the
# oldest-Airflow run is skipped unless TAGOFFLINE_SMOKE_OLDEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check airflow_provider_tagoffline tests bench dags
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
if [ $# -eq 0 ] || [ "${TAGOFFLINE_SMOKE_OLDEST:-}" = 1 ]; then
  bash scripts/smoke_oldest.sh
fi
