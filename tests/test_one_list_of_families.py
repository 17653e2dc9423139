"""The registry (``dialects/__init__.py``) is the only list of database families: outside a family's
own package, no source file of the provider names a family in its code.

Every ``.py``, ``.js``, ``.html`` and ``.css`` file under ``airflow_provider_tagoffline/`` is read;
its code — identifiers and string literals, not comments or docstrings, which may explain a
choice by naming the database that forced it — is searched for the words of every family: the
registry's names, kinds, flavours and connection types, and the drivers below. A family's package
may use its own words only; the registry all of them. A hit elsewhere fails naming ``file:line``:
that knowledge belongs in the family's package, asked through the family or its dialect.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from airflow_provider_tagoffline.dialects import FAMILIES, Family

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_tagoffline"
REGISTRY = "dialects/__init__.py"

#: words of a family its declaration does not hold: drivers, hooks' spellings, engines, forks
DRIVER_WORDS = {
    "postgres": ("psycopg", "libpq", "gauss"),
    "mysql": ("innodb",),
    "oracle": (),
    "sqlite": (),
    "duckdb": ("motherduck",),
    "spark": ("pyhive", "pyspark", "thriftserver"),
}

#: files that name a database for a reason other than reading or writing a family's connections
EXCEPTIONS: dict[str, tuple[set[str], str]] = {
    # The catalog store is the provider's own metadata database (SQLAlchemy URL, SQLite pragmas),
    # like Airflow's: its drivers are chosen by URL, not by a target or warehouse connection.
    "catalog/store.py": ({"postgres", "psycopg", "mysql", "sqlite"}, "the catalog store's own URL"),
    "config.py": ({"postgres", "psycopg", "mysql", "sqlite"}, "the catalog store's default URL and example"),
    # Alembic renders ALTERs as batches on SQLite: the catalog store again.
    "catalog/migrations/env.py": ({"sqlite"}, "Alembic on the catalog store"),
    # The demo chooses its databases: a DuckDB warehouse with sample data and a SQLite target.
    "cli/demo_cmd.py": ({"duckdb", "sqlite"}, "the demo's chosen warehouse and target"),
    # Airflow's Connection.from_json/from_uri turn the connection type "postgresql" into "postgres".
    "env_connections.py": ({"postgres"}, "Airflow's own parsing of AIRFLOW_CONN_* variables"),
}


def family_words() -> dict[str, tuple[str, ...]]:
    """Family name → its words (lower case), from the registry and DRIVER_WORDS."""
    out = {}
    for f in FAMILIES:
        words = {f.name, *f.kinds, *f.conn_types, *f.flavor_aliases, *DRIVER_WORDS.get(f.name, ())}
        out[f.name] = tuple(sorted(w.lower() for w in words))
    return out


def code_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of a file: comments and docstrings left out."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return _python_code(text)
    return _c_like_code(text, html=path.suffix == ".html")


def _python_code(text: str) -> list[tuple[int, str]]:
    prose: set[int] = set()  # lines of docstrings and other bare string statements
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            prose.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NAME, tokenize.STRING) and tok.start[0] not in prose:
            for offset, line in enumerate(tok.string.splitlines() or [""]):
                out.append((tok.start[0] + offset, line))
    return out


def _c_like_code(text: str, html: bool) -> list[tuple[int, str]]:
    """JS / CSS / HTML without ``//`` and ``/* */`` comments (``<!-- -->`` in HTML), strings kept."""
    out, i, quote = [], 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1:i + 2])
                i += 1
            elif ch == quote:
                quote = ""
        elif html and text.startswith("<!--", i):
            end = text.find("-->", i)
            end = len(text) if end < 0 else end + 3
            out.append("\n" * text.count("\n", i, end))
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i)
            end = len(text) if end < 0 else end + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
            continue
        elif text.startswith("//", i) and not html and text[i - 1:i] != ":":  # not the // of a URL
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            if ch in "'\"`" and not html:
                quote = ch
            out.append(ch)
        i += 1
    return list(enumerate("".join(out).splitlines(), start=1))


def violations(root: Path = PACKAGE) -> list[str]:
    words = family_words()
    every = sorted({w for ws in words.values() for w in ws}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in every), re.IGNORECASE)
    owner_of = {w: name for name, ws in words.items() for w in ws}
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".js", ".html", ".css")):
        rel = path.relative_to(root).as_posix()
        if rel == REGISTRY:
            continue
        parts = rel.split("/")
        own_family = parts[1] if parts[0] == "dialects" and len(parts) > 2 else None
        allowed, _why = EXCEPTIONS.get(rel, (set(), ""))
        for lineno, line in code_lines(path):
            for m in pattern.finditer(line):
                family = owner_of[m.group(0).lower()]
                if family != own_family and family not in allowed:
                    found.append(f"{rel}:{lineno}: {m.group(0)!r} ({family} family) in {line.strip()[:100]!r}")
    return found


def test_only_the_registry_and_a_familys_own_package_name_a_family() -> None:
    found = violations()
    assert not found, ("family knowledge outside its package (move it into dialects/<family>/ and ask the "
                       "family or its dialect):\n" + "\n".join(found))


def test_the_words_cover_every_registered_family() -> None:
    assert set(DRIVER_WORDS) == {f.name for f in FAMILIES}, "a new family: give its drivers' words here"
    for rel in EXCEPTIONS:
        assert (PACKAGE / rel).is_file(), f"exception for a file that is gone: {rel}"


def test_the_scan_sees_code_and_not_prose(tmp_path: Path) -> None:
    (tmp_path / "dialects" / "mysql").mkdir(parents=True)
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "runner.py").write_text(
        '"""Faster on MariaDB (a docstring may say why)."""\n'
        "# and so may a comment: PostgreSQL\n"
        "def load(kind):\n"
        "    if kind == 'greenplum':\n"
        "        import psycopg\n")
    (tmp_path / "dialects" / "mysql" / "target.py").write_text("MYSQL_ONLY = 'mariadb'\nOTHER = 'oracledb'\n")
    (tmp_path / "view.js").write_text('// sqlite in a comment\nconst KINDS = ["duckdb"]; /* mysql */\n'
                                      'const url = "https://x"; const pg = "opengauss";\n')
    assert violations(tmp_path) == [
        "dialects/mysql/target.py:2: 'oracle' (oracle family) in \"'oracledb'\"",
        "engine/runner.py:4: 'greenplum' (postgres family) in \"'greenplum'\"",
        "engine/runner.py:5: 'psycopg' (postgres family) in 'psycopg'",
        "view.js:2: 'duckdb' (duckdb family) in 'const KINDS = [\"duckdb\"];'",
        "view.js:3: 'opengauss' (postgres family) in 'const url = \"https://x\"; const pg = \"opengauss\";'",
    ]


def test_a_family_is_declared_once() -> None:
    names = [f.name for f in FAMILIES]
    kinds = [k for f in FAMILIES for k in f.kinds]
    conn_types = [c for f in FAMILIES for c in f.conn_types]
    assert len(set(names)) == len(names) and len(set(kinds)) == len(kinds) and len(set(conn_types)) == len(conn_types)
    assert all(isinstance(f, Family) and f.kinds[0] == f.name for f in FAMILIES)
