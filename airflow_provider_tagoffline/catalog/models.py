"""SQLAlchemy models of the catalog store (schema changes ship as Alembic migrations).

Table names carry the ``tagoffline_`` prefix so the store can share a database with other tools.
Services keep their whole definition as JSON (``definition`` = the draft being edited,
``published_spec`` = the run spec frozen at publish) plus the columns the list filters on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso_utc(value: dt.datetime | None) -> str | None:
    """ISO 8601 with its offset: the store keeps naive UTC, clients must not read local time."""
    if value is None:
        return None
    return (value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value).isoformat()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Codes are ASCII identifiers; names may be Chinese. 64/255 fit MySQL's utf8mb4 index limits.
CODE = String(64)
NAME = String(255)


class Application(Base):
    __tablename__ = "tagoffline_application"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(CODE, unique=True)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str] = mapped_column(Text, default="")
    users: Mapped[list[ApplicationUser]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationUser.username"
    )

    def usernames(self, role: str) -> list[str]:
        return [u.username for u in self.users if u.role == role]


class ApplicationUser(Base):
    __tablename__ = "tagoffline_application_user"
    __table_args__ = (UniqueConstraint("application_id", "username"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_application.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(NAME)
    role: Mapped[str] = mapped_column(String(16))  # admin | member
    application: Mapped[Application] = relationship(back_populates="users")


class Entity(Base):
    __tablename__ = "tagoffline_entity"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(CODE, unique=True)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str] = mapped_column(Text, default="")
    ids: Mapped[list[EntityId]] = relationship(back_populates="entity", order_by="EntityId.id")
    tags: Mapped[list[Tag]] = relationship(back_populates="entity", order_by="Tag.id")


class EntityId(Base):
    __tablename__ = "tagoffline_entity_id"
    __table_args__ = (UniqueConstraint("entity_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_entity.id"))
    code: Mapped[str] = mapped_column(CODE)
    name: Mapped[str] = mapped_column(NAME)
    value_type: Mapped[str] = mapped_column(String(32))
    entity: Mapped[Entity] = relationship(back_populates="ids")


class Lookup(Base):
    __tablename__ = "tagoffline_lookup"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(CODE, unique=True)
    name: Mapped[str] = mapped_column(NAME, default="")
    kind: Mapped[str] = mapped_column(String(16))  # inline | table
    source_table: Mapped[str | None] = mapped_column(NAME, nullable=True)
    code_column: Mapped[str | None] = mapped_column(NAME, nullable=True)
    name_column: Mapped[str | None] = mapped_column(NAME, nullable=True)
    values: Mapped[list[LookupValue]] = relationship(
        back_populates="lookup", cascade="all, delete-orphan", order_by="LookupValue.position"
    )


class LookupValue(Base):
    __tablename__ = "tagoffline_lookup_value"
    __table_args__ = (UniqueConstraint("lookup_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    lookup_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_lookup.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(NAME)
    name: Mapped[str] = mapped_column(Text)
    lookup: Mapped[Lookup] = relationship(back_populates="values")


class Tag(Base):
    __tablename__ = "tagoffline_tag"
    __table_args__ = (UniqueConstraint("entity_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_entity.id"))
    code: Mapped[str] = mapped_column(CODE)
    name: Mapped[str] = mapped_column(NAME)
    key_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_entity_id.id"))  # the entity ID it is keyed by
    value_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    lookup_id: Mapped[int | None] = mapped_column(ForeignKey("tagoffline_lookup.id"), nullable=True)
    source_table: Mapped[str] = mapped_column(NAME)
    source_key: Mapped[str] = mapped_column(NAME)
    source_column: Mapped[str] = mapped_column(NAME)
    source_partition: Mapped[str | None] = mapped_column(NAME, nullable=True)
    source_partition_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    entity: Mapped[Entity] = relationship(back_populates="tags")
    key: Mapped[EntityId] = relationship()
    lookup: Mapped[Lookup | None] = relationship()


class Grant(Base):
    __tablename__ = "tagoffline_grant"
    __table_args__ = (UniqueConstraint("application_id", "tag_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_application.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_tag.id"))
    expires: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # requested | approved | rejected | revoked
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str | None] = mapped_column(NAME, nullable=True)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(NAME, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    application: Mapped[Application] = relationship()
    tag: Mapped[Tag] = relationship()


class TargetGrant(Base):
    """A connection grant: an application may use this Airflow connection — write the tables of a
    target (in these schemas), send a service's notifications through it.

    ``schemas`` is a JSON list of schema names, or NULL for every schema; kinds without schemas
    (and notification connections) ignore it. Which table belongs to which service is a
    ``TargetClaim``.
    """

    __tablename__ = "tagoffline_target_grant"
    __table_args__ = (UniqueConstraint("application_id", "conn_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_application.id", ondelete="CASCADE"))
    conn_id: Mapped[str] = mapped_column(String(250))  # Airflow's own limit of a connection id
    schemas: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    granted_by: Mapped[str] = mapped_column(NAME)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    application: Mapped[Application] = relationship()


class TargetClaim(Base):
    """A target place held by one service (docs/target-grants.md, "Claims"): the place's key is
    unique, so two services can never hold one place, whoever saves first or at the same moment.

    ``place_key`` is ``places.TargetPlace.claim_key`` (a digest of database identity, resolved
    schema and table as the family compares names); the other columns say the place for people,
    with the partition scheme the service writes it with. A service holds at most one place.
    """

    __tablename__ = "tagoffline_target_claim"
    id: Mapped[int] = mapped_column(primary_key=True)
    place_key: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_service.id", ondelete="CASCADE"), unique=True)
    conn_id: Mapped[str] = mapped_column(String(250))  # the connection the service named
    database: Mapped[str] = mapped_column(Text)  # the database identity, joined with "/"
    schema_name: Mapped[str | None] = mapped_column(NAME, nullable=True)  # resolved; None: no schemas
    table_name: Mapped[str] = mapped_column(NAME)
    partition_field: Mapped[str | None] = mapped_column(NAME, nullable=True)
    partition_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    service: Mapped[Service] = relationship(back_populates="claim")


class Service(Base):
    __tablename__ = "tagoffline_service"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    slug: Mapped[str] = mapped_column(String(128), unique=True)  # ASCII; DAG id tag_offline__<slug>
    application_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_application.id"))
    owner: Mapped[str] = mapped_column(NAME, index=True)
    entity_code: Mapped[str] = mapped_column(CODE)
    entity_id_code: Mapped[str] = mapped_column(CODE)
    schedule_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    target_conn_id: Mapped[str] = mapped_column(NAME)
    target_kind: Mapped[str] = mapped_column(String(32))
    target_schema: Mapped[str | None] = mapped_column(NAME, nullable=True)
    target_table: Mapped[str] = mapped_column(NAME)
    status: Mapped[str] = mapped_column(String(32), index=True, default="editing")
    status_message: Mapped[str] = mapped_column(Text, default="")
    execution_status: Mapped[str] = mapped_column(String(16), default="none")
    tag_codes: Mapped[str] = mapped_column(Text, default="")  # comma-separated, for list display
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # the draft (service YAML form)
    version: Mapped[int] = mapped_column(Integer, default=1)  # draft version; optimistic concurrency
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ever_published: Mapped[bool] = mapped_column(Boolean, default=False)
    # Publishing bookkeeping: when the DAG file was written and the fingerprint of the run spec in
    # it; the DAG's doc carries the fingerprint, which is how "Airflow has loaded this version" is
    # recognised in Airflow's serialized DAG.
    publish_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    spec_fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The run spec Airflow last loaded: a republish that fails puts it back, so the DAG keeps running.
    live_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(NAME)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    application: Mapped[Application] = relationship()
    tags: Mapped[list[ServiceTag]] = relationship(cascade="all, delete-orphan")
    #: the target place it holds; None: none yet (a service of an old catalog whose place another held)
    claim: Mapped[TargetClaim | None] = relationship(back_populates="service", cascade="all, delete-orphan")


class ServiceTag(Base):
    """Which tags a service maps: guards tag deletion and serves the list's tag filter."""

    __tablename__ = "tagoffline_service_tag"
    __table_args__ = (UniqueConstraint("service_id", "tag_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_service.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tagoffline_tag.id"))
    tag: Mapped[Tag] = relationship()


class AuditLog(Base):
    __tablename__ = "tagoffline_audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(String(32))  # create | update | delete | publish | ...
    object_type: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(NAME, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
