"""The rendered DAG file holds user text only inside the RUN_SPEC literal, and a source that is not exactly
the four expected statements is refused before it is written (rendering/render.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tagoffline.rendering.render import (
    DOCSTRING,
    UnsafeDagSource,
    check_dag_source,
    render_dag_source,
    write_dag_file,
)
from airflow_provider_tagoffline.runspec import RUNSPEC_VERSION, RunSpec
from tests.run_data import hostile_spec


def literal_of(source: str) -> Any:
    assign = ast.parse(source).body[2]
    assert isinstance(assign, ast.Assign)
    return ast.literal_eval(assign.value)


def test_hostile_text_renders_into_the_literal_only_and_round_trips(tmp_path: Path) -> None:
    spec = hostile_spec()
    source = render_dag_source(spec)
    module = ast.parse(source)
    assert ast.get_docstring(module, clean=False) == DOCSTRING
    assert [type(s).__name__ for s in module.body] == ["Expr", "ImportFrom", "Assign", "Assign"]
    assert RunSpec.model_validate(literal_of(source)) == spec
    # nothing of the user's text outside the literal: the lines before and after it are the fixed ones
    assign = module.body[2]
    assert assign.end_lineno is not None
    outside = source.splitlines()[:assign.lineno - 1] + source.splitlines()[assign.end_lineno:]
    assert "\n".join(outside) == (f'"""{DOCSTRING}"""\n\nfrom airflow_provider_tagoffline.rendering.factory import '
                                  "tag_offline_dag\n\n\ndag = tag_offline_dag(RUN_SPEC)")
    path = write_dag_file(spec, tmp_path)
    assert path.read_text(encoding="utf-8") == source
    assert RunSpec.model_validate(literal_of(path.read_text(encoding="utf-8"))) == spec


def _replace_once(source: str, old: str, new: str) -> str:
    assert source.count(old) >= 1, old
    return source.replace(old, new, 1)


VERSION = f"'spec_version': {RUNSPEC_VERSION},"
TAMPERED = {
    "an extra statement at the end": lambda s: s + "import os\n",
    "an extra statement before the spec": lambda s: _replace_once(s, "\n\nRUN_SPEC", "\nimport os\n\nRUN_SPEC"),
    "a call inside the literal": lambda s: _replace_once(s, VERSION,
                                                         "'spec_version': __import__('os').getpid(),"),
    "a name inside the literal": lambda s: _replace_once(s, VERSION, "'spec_version': RUN_SPEC,"),
    "another value in the literal": lambda s: _replace_once(s, VERSION, "'spec_version': 99,"),
    "0 for False in the literal": lambda s: _replace_once(s, "'allow_empty': False", "'allow_empty': 0"),
    "a comment": lambda s: _replace_once(s, "\n\ndag =", "\n# generated\ndag ="),
    "another docstring": lambda s: _replace_once(s, "Tag offline service DAG", "Some DAG"),
    "another import": lambda s: _replace_once(s, "from airflow_provider_tagoffline.rendering.factory import",
                                              "from os import system as"),
    "an argument added to the factory call": lambda s: _replace_once(s, "tag_offline_dag(RUN_SPEC)",
                                                                      "tag_offline_dag(RUN_SPEC, x=1)"),
    "an annotated assignment": lambda s: _replace_once(s, "RUN_SPEC = {", "RUN_SPEC: dict = {"),
    "a chained assignment": lambda s: _replace_once(s, "RUN_SPEC = {", "RUN_SPEC = X = {"),
    "a syntax error": lambda s: s + "(\n",
}


@pytest.mark.parametrize("how", list(TAMPERED))
def test_a_tampered_source_is_refused(how: str) -> None:
    spec = hostile_spec()
    good = render_dag_source(spec)
    check_dag_source(good, spec.to_dict())  # the untouched source passes
    with pytest.raises(UnsafeDagSource, match=r"was refused, nothing written: "):
        check_dag_source(TAMPERED[how](good), spec.to_dict())


def test_a_refused_rendering_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_tagoffline.rendering import render

    monkeypatch.setattr(render, "DAG_STATEMENT", "dag = tag_offline_dag(RUN_SPEC); import os")
    with pytest.raises(UnsafeDagSource):
        write_dag_file(hostile_spec(), tmp_path)
    assert list(tmp_path.iterdir()) == []
