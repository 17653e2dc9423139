"""Alembic environment of the catalog store; run through ``tagoffline db migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from airflow_provider_tagoffline.catalog.models import Base

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
version_table = config.get_main_option("version_table") or "tagoffline_alembic_version"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, version_table=version_table)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
