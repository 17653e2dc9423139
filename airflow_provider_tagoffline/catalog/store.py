"""Engine, sessions and migrations of the catalog store (``[tag_offline] sql_alchemy_conn``).

Alembic runs the migrations; whether the store is up to date is read without it (one SELECT, and
the revisions named in ``migrations/versions``), since every CLI command asks that first and
importing Alembic costs more than the rest of a command (``docs/performance.md``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, column, create_engine, event, inspect, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from airflow_provider_tagoffline import config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "tagoffline_alembic_version"


def _normalize_url(url: str) -> str:
    # Plain postgresql:// would pick psycopg2; psycopg 3 is what the rest of the package uses.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("mysql://"):
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


def get_engine(url: str | None = None) -> Engine:
    """The engine of ``url`` (default: the configured store), one per URL per process."""
    return _engine(_normalize_url(url or config.catalog_url()))


def display_url(url: str | None = None) -> str:
    """The store's URL as it may be shown: without its password."""
    return make_url(url or config.catalog_url()).render_as_string(hide_password=True)


def sqlite_file(url: str | None = None) -> Path | None:
    """The file of a SQLite store (None for any other, or an in-memory one)."""
    url = _normalize_url(url or config.catalog_url())
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return Path(path) if path and path != ":memory:" else None


def absent(url: str | None = None) -> bool:
    """Whether the store is a SQLite file that does not exist: nothing to read there, and a read must
    not create it (only ``migrate`` does)."""
    path = sqlite_file(url)
    return path is not None and not path.exists()


@cache
def _engine(url: str) -> Engine:
    kwargs: dict = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    session = sessionmaker(bind=get_engine(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(url: str):
    import logging

    from alembic.config import Config

    # Alembic's INFO lines would go to stdout through Airflow's logging and mix with CLI output.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_table", VERSION_TABLE)
    cfg.attributes["url"] = _normalize_url(url)
    return cfg


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the catalog store to ``revision`` (default: the newest)."""
    from alembic import command

    path = sqlite_file(url)
    if path is not None:  # the one command that creates a store
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(url or config.catalog_url()), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(_alembic_config(url or config.catalog_url()), revision)


def current_revision(url: str | None = None) -> str | None:
    """The store's revision; None when it has no tables yet (or, for SQLite, no file: not created here)."""
    if absent(url):
        return None
    engine = get_engine(url)
    if not inspect(engine).has_table(VERSION_TABLE):
        return None
    with engine.connect() as conn:
        found: list[str] = list(
            conn.execute(select(column("version_num")).select_from(table(VERSION_TABLE))).scalars())
    if len(found) > 1:  # branches: never made here; Alembic's own message says what it found
        return _alembic_current_revision(url)
    return found[0] if found else None


def _alembic_current_revision(url: str | None) -> str | None:
    import logging

    from alembic.runtime.migration import MigrationContext

    logging.getLogger("alembic").setLevel(logging.WARNING)

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


@cache
def head_revision() -> str:
    """The newest revision: the one no migration in ``migrations/versions`` names as its down_revision
    (the history is one line; anything else is left to Alembic)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        names = _assigned_strings(path, ("revision", "down_revision"))
        if "revision" in names:
            revisions[str(names["revision"])] = names.get("down_revision")
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else _alembic_head_revision()


def _assigned_strings(path: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    """Module-level ``name = "literal"`` (or None) assignments of a migration file, read without running it."""
    found: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):  # revision: str = "0004"
            target = node.target
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id in names and isinstance(node.value, ast.Constant)):
            continue
        if node.value.value is None or isinstance(node.value.value, str):
            found[target.id] = node.value.value
    return found


def _alembic_head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def is_migrated(url: str | None = None) -> bool:
    return current_revision(url) == head_revision()
