#!/usr/bin/env bash
# Install, then lint (ruff), type-check (mypy) and run the whole test suite against the live
# PostgreSQL and MariaDB servers; then the smoke tests (-m smoke) again on the oldest Airflow this
# package supports, from its base install in .venv-oldest (scripts/smoke_oldest.sh). Exits non-zero
# on any failure. Arguments go to the main suite's pytest; with arguments (a selection), the
# oldest-Airflow run is skipped unless TAGOFFLINE_SMOKE_OLDEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
usage: scripts/test.sh [PYTEST ARGS...]
       scripts/test.sh -h | --help

Installs the project into ./.venv (scripts/install.sh), then runs ruff, mypy and pytest against
the live PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306). Arguments go to pytest as they
are, e.g. `scripts/test.sh tests/service` or `scripts/test.sh -k backfill`; with none, the whole
suite runs (what CI does: .ci/run), then the smoke tests (-m smoke) again on the oldest supported
Airflow from the base install in ./.venv-oldest (scripts/smoke_oldest.sh; with arguments, only when
TAGOFFLINE_SMOKE_OLDEST=1).
USAGE
}

case "${1:-}" in
  -h|--help|help) usage; exit 0 ;;
esac

bash scripts/install.sh
.venv/bin/ruff check airflow_provider_tagoffline tests bench dags
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider --durations=25 "$@"
if [ $# -eq 0 ] || [ "${TAGOFFLINE_SMOKE_OLDEST:-}" = 1 ]; then
  bash scripts/smoke_oldest.sh
fi
