"""Engine, sessions and migrations of the catalog store (``[tag_offline] sql_alchemy_conn``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
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


@cache
def _engine(url: str) -> Engine:
    kwargs: dict = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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

    command.upgrade(_alembic_config(url or config.catalog_url()), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(_alembic_config(url or config.catalog_url()), revision)


def current_revision(url: str | None = None) -> str | None:
    import logging

    from alembic.runtime.migration import MigrationContext

    logging.getLogger("alembic").setLevel(logging.WARNING)

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def is_migrated(url: str | None = None) -> bool:
    engine = get_engine(url)
    if not inspect(engine).has_table(VERSION_TABLE):
        return False
    return current_revision(url) == head_revision()
