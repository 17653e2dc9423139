"""The one rule of a run's data date (spec §4), its refusal of an older date on a whole-table target,
what a backfill says beforehand, and how long a run waits for late data. Pure functions: the paths
through a real Airflow are in tests/api/test_trigger_paths.py."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_tagoffline.data_date import (
    backfill_needs_allow_older,
    backfill_outlook,
    data_date_for_run,
    older_refusal,
    parse_data_date,
    yesterday,
)
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.waiting import (
    DEFAULT_WAIT_SECONDS,
    format_wait,
    parse_wait,
    wait_for_run,
)

UTC = dt.UTC
SH = "Asia/Shanghai"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("run_type", "logical", "requested", "tz", "expected"), [
    # Airflow's Trigger with the defaults: logical date = now; T-1 in the service's timezone
    ("manual", "2026-11-30T01:00:00+00:00", None, "UTC", "2026-11-29"),
    ("manual", "2026-11-30T01:00:00+00:00", "", "UTC", "2026-11-29"),
    # 20:00 UTC is already the next day in Shanghai
    ("manual", "2026-11-30T20:00:00+00:00", None, SH, "2026-11-30"),
    ("manual", "2026-11-30T15:59:00+00:00", None, SH, "2026-11-29"),
    # the trigger form's date picker, REST conf, the plugin's Run, the CLI: the chosen date wins
    ("manual", "2026-11-30T01:00:00+00:00", "2026-01-02", SH, "2026-01-02"),
    ("scheduled", "2026-11-29T18:30:00+00:00", "2026-01-03", SH, "2026-01-03"),
    # a scheduled run at D+1 02:30 Shanghai has logical date = its interval start D 02:30: exports D
    ("scheduled", "2026-11-28T18:30:00+00:00", None, SH, "2026-11-29"),
    ("backfill", "2026-11-25T02:30:00+00:00", None, "UTC", "2026-11-25"),
    # Airflow's backfill form sends its params to every run: a backfill run still exports its own date
    ("backfill", "2026-11-25T02:30:00+00:00", "2026-01-02", "UTC", "2026-11-25"),
    # any other run is "run now": T-1
    ("asset_triggered", "2026-11-30T10:00:00+00:00", None, "UTC", "2026-11-29"),
])
def test_data_date_for_each_kind_of_run(run_type: str, logical: str, requested: str | None, tz: str,
                                        expected: str) -> None:
    assert data_date_for_run(run_type, at(logical), requested, tz).isoformat() == expected


def test_a_manual_run_without_logical_date_is_t_minus_1_of_when_it_was_due() -> None:
    assert data_date_for_run("manual", None, None, SH, run_after=at("2026-11-30T17:00:00+00:00")) == \
        dt.date(2026, 11, 30)  # 01:00 on Dec 1st in Shanghai
    now = dt.datetime.now(UTC)
    assert data_date_for_run("manual", None, None, "UTC") == yesterday("UTC", now)


@pytest.mark.parametrize("bad", ["01/02/2026", "2026-13-01", "tomorrow", 20260102])
def test_a_requested_date_that_is_no_date_names_the_field(bad: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        data_date_for_run("manual", at("2026-11-30T01:00:00+00:00"), bad, "UTC")
    assert str(err.value) == f"data_date: {bad!r} is not a date YYYY-MM-DD"
    assert parse_data_date("2026-01-02") == dt.date(2026, 1, 2)


def test_an_older_date_on_a_whole_table_is_refused_naming_both_dates() -> None:
    d = dt.date
    said = older_refusal("app:user_tags", d(2026, 11, 28), d(2026, 11, 29), allow_older=False)
    assert said == ("target app:user_tags holds data date 2026-11-29; data date 2026-11-28 is older and would "
                    "roll it back: refused, the table is untouched (allow_older runs it anyway)")
    assert older_refusal("t", d(2026, 11, 28), d(2026, 11, 29), allow_older=True) is None
    assert older_refusal("t", d(2026, 11, 29), d(2026, 11, 29), allow_older=False) is None  # the same date again
    assert older_refusal("t", d(2026, 11, 30), d(2026, 11, 29), allow_older=False) is None
    assert older_refusal("t", d(2026, 11, 1), None, allow_older=False) is None  # nothing recorded yet


def test_a_backfill_says_what_the_whole_table_will_end_at() -> None:
    d = dt.date
    assert backfill_outlook("app:t", d(2026, 11, 26), d(2026, 11, 28), d(2026, 11, 29)) == (
        "target app:t is a whole table: the backfill replaces it with data dates 2026-11-26 to 2026-11-28, "
        "oldest first, and leaves it holding 2026-11-28, older than the 2026-11-29 it holds now")
    assert backfill_outlook("app:t", d(2026, 11, 27), d(2026, 11, 29), d(2026, 11, 29)).endswith(
        "leaves it holding 2026-11-29; it holds 2026-11-29 now, and the earlier dates roll it back until the last run")
    assert backfill_outlook("app:t", d(2026, 11, 27), d(2026, 11, 27), None) == (
        "target app:t is a whole table: the backfill replaces it with data date 2026-11-27, oldest first, and "
        "leaves it holding 2026-11-27")
    assert backfill_needs_allow_older(d(2026, 11, 27), d(2026, 11, 29))
    assert not backfill_needs_allow_older(d(2026, 11, 30), d(2026, 11, 29))
    assert not backfill_needs_allow_older(d(2026, 11, 1), None)


@pytest.mark.parametrize(("given", "seconds"), [
    ("6h", 21600), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("0", 0), (120, 120), ("24h", 86400), (" 2 h ", 7200),
])
def test_wait_for_data_durations(given: object, seconds: int) -> None:
    assert parse_wait(given) == seconds


@pytest.mark.parametrize(("given", "said"), [
    ("6 hours", "schedule.wait_for_data: '6 hours' is not a duration such as 6h, 90m, 1h30m or 45s"),
    ("25h", "schedule.wait_for_data: '25h' is outside 0 to 24h (the next day's run would be due)"),
    (-5, "schedule.wait_for_data: -5 is outside 0 to 24h (the next day's run would be due)"),
    (True, "schedule.wait_for_data: True is not a duration such as 6h, 90m, 1h30m or 45s"),
])
def test_wait_for_data_refusals_name_the_field(given: object, said: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_wait(given)
    assert str(err.value) == said


def test_only_scheduled_runs_wait() -> None:
    assert wait_for_run("scheduled", None) == DEFAULT_WAIT_SECONDS == 6 * 3600
    assert wait_for_run("scheduled", 30) == 30
    for run_type in ("manual", "backfill", "asset_triggered"):
        assert wait_for_run(run_type, 3600) == 0
    assert [format_wait(s) for s in (0, 45, 5400, 21600)] == ["0s", "45s", "1h30m", "6h"]


def test_only_a_scheduled_run_refused_over_an_older_date_is_skipped() -> None:
    """The schedule's run is superseded by the later date there; a date somebody chose fails, visibly."""
    from airflow_provider_tagoffline.data_date import skips_when_older

    assert skips_when_older("scheduled")
    for run_type in ("manual", "backfill", "asset_triggered", "dataset_triggered"):
        assert not skips_when_older(run_type)
