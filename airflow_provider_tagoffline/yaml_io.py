"""Reading and writing the YAML files of spec §9 (catalog files and service files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_tagoffline.errors import ValidationFailed


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Keep "02:30" quoted (YAML 1.1 would read 02:30 as a sexagesimal number).
    style = '"' if ":" in data and len(data) <= 8 and data.replace(":", "").isdigit() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(dt.date, lambda d, v: d.represent_scalar("tag:yaml.org,2002:timestamp", v.isoformat()))


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file given on the command line; problems as one ``file: ...`` line."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed.one("file", f"{p} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed.one("file", f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ValidationFailed.one("file", f"{p}: {exc.strerror}") from None


def load_yaml_file(path: str | Path) -> Any:
    return load_yaml_text(read_text_file(path), str(path))


def load_yaml_text(text: str, source: str = "<input>") -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.reader.ReaderError as exc:  # a control character: its own shape, no mark
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ValidationFailed.one("file", f"{source}: not valid YAML (character #x{char:04x} at position "
                                           f"{exc.position}: {exc.reason})") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ValidationFailed.one("file", f"{source}: not valid YAML (nested too deeply)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        problem = " ".join(problem.split())  # one line, whatever the parser wrote
        raise ValidationFailed.one("file", f"{where}: not valid YAML ({problem})") from None


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False)


def parse_catalog(data: Any):  # -> CatalogDef
    """A catalog file's content as CatalogDef; shape errors name their field."""
    from pydantic import ValidationError

    from airflow_provider_tagoffline.catalog.schemas import CatalogDef
    from airflow_provider_tagoffline.service.validation import pydantic_errors

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed.one("", "a catalog file must be a mapping with applications, lookups, entities, "
                                   "grants, target_grants")
    try:
        return CatalogDef.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(pydantic_errors(exc)) from None
