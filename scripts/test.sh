#!/usr/bin/env bash
# Install, then lint (ruff), type-check (mypy) and run the whole test suite against the live
# PostgreSQL and MariaDB servers; then the smoke tests (-m smoke) again on the oldest Airflow this
# package supports, from its base install in .venv-oldest (scripts/smoke_oldest.sh, run beside the
# main suite). Exits non-zero on any failure. Arguments go to the main suite's pytest; with
# arguments (a selection), the oldest-Airflow run is skipped unless TAGOFFLINE_SMOKE_OLDEST=1.
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

# The oldest-Airflow smoke run (its own venv, SQLite, free ports) runs beside the main suite: it
# shares nothing with it, and in sequence it added ~4 minutes to a run near its 30-minute budget.
oldest_pid=""
oldest_log=""
if [ $# -eq 0 ] || [ "${TAGOFFLINE_SMOKE_OLDEST:-}" = 1 ]; then
  oldest_log=$(mktemp)
  # its own process group, so that an early exit (ruff, mypy) stops it with its children
  setsid bash scripts/smoke_oldest.sh >"$oldest_log" 2>&1 &
  oldest_pid=$!
  trap 'kill -- "-$oldest_pid" 2>/dev/null || true' EXIT
fi

bash scripts/install.sh
.venv/bin/ruff check airflow_provider_tagoffline tests bench dags
.venv/bin/mypy
suite=0
.venv/bin/pytest -q -p no:cacheprovider --durations=25 "$@" || suite=$?

oldest=0
if [ -n "$oldest_pid" ]; then
  wait "$oldest_pid" || oldest=$?
  trap - EXIT
  echo "--- smoke tests on the oldest supported Airflow (scripts/smoke_oldest.sh) ---"
  cat "$oldest_log"
  rm -f "$oldest_log"
  [ "$oldest" -eq 0 ] || echo "the oldest-Airflow smoke run failed (exit $oldest)"
fi
[ "$suite" -eq 0 ] || echo "the test suite failed (exit $suite)"
[ "$suite" -eq 0 ] && [ "$oldest" -eq 0 ]
