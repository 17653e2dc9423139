"""Server paths hidden from non-admins (api/server_paths.py, issue 20 finding 5): absolute paths cut to
their file name, everything else left as written."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.api.server_paths import hide, hide_in_text


@pytest.mark.parametrize(("text", "shown"), [
    ("DAG file written to /opt/airflow/dags/tag_offline/tag_offline__crm.py, which is in no DAG bundle",
     "DAG file written to …/tag_offline__crm.py, which is in no DAG bundle"),
    ('File "/usr/lib/python3.11/site-packages/x/y.py", line 3, in <module>', 'File "…/y.py", line 3, in <module>'),
    ("another run is writing t (lock file /tmp/tagoffline-locks/abc.lock held)",
     "another run is writing t (lock file …/abc.lock held)"),
    ("cannot write the DAG file /srv/dags/x.py: [Errno 13] Permission denied: '/srv/dags/x.py'",
     "cannot write the DAG file …/x.py: [Errno 13] Permission denied: '…/x.py'"),
    # not paths: URLs, relative paths, date formats, ratios, a lone slash
    ("see http://airflow.example:8080/dags/tag_offline__x/runs", "see http://airflow.example:8080/dags/tag_offline__x/runs"),
    ("format yyyy/MM/dd, 5/10 rows, a/b/c and / alone", "format yyyy/MM/dd, 5/10 rows, a/b/c and / alone"),
])
def test_absolute_paths_are_cut_to_their_file_name(text: str, shown: str) -> None:
    assert hide_in_text(text) == shown


def test_every_string_inside_a_detail() -> None:
    detail = {"version": 2, "error": "no such file /var/lib/x/y.db", "statements": ["CREATE TABLE t (a int)"]}
    assert hide(detail) == {"version": 2, "error": "no such file …/y.db", "statements": ["CREATE TABLE t (a int)"]}
