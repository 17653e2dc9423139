"""Same-name mapping (spec §3): which tags a target table's columns map to, by name.

A column named like a tag code (case-insensitive) takes the tag's value; a column
``{tag code}_codename`` takes its code name (tags with a lookup only). Only tags keyed by the
chosen entity ID and granted to the application (approved, not expired) are considered.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.schemas import MappingSuggestion
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Tag
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed
from airflow_provider_tagoffline.service import attention
from airflow_provider_tagoffline.service.definition import MappingDef


def candidate_tags(session: Session, application: str, entity: str, entity_id: str) -> list[Tag]:
    """Tags of ``entity`` keyed by ``entity_id`` and granted to ``application`` today."""
    errors = []
    app = repo.find_application(session, application)
    if app is None:
        errors.append(FieldError("application", f"application {application!r} does not exist"))
    ent = repo.find_entity(session, entity)
    eid = None
    if ent is None:
        errors.append(FieldError("entity", f"entity {entity!r} does not exist"))
    else:
        eid = repo.find_entity_id(session, ent, entity_id)
        if eid is None:
            errors.append(FieldError("entity_id", f"entity {entity!r} has no entity ID {entity_id!r}"))
    if errors:
        raise ValidationFailed(errors)
    assert app is not None and ent is not None and eid is not None
    return [t for t in ent.tags if t.key_id == eid.id and attention.effective_grant(session, app, t)[0]]


def suggest(tags: list[Tag], columns: list[str], entity_id: str | None = None) -> MappingSuggestion:
    """Map ``tags`` to ``columns`` by name; the column named like ``entity_id`` holds the key, not a tag."""
    by_lower: dict[str, str] = {}
    for c in columns:
        by_lower.setdefault(c.lower(), c)
    key = by_lower.get(entity_id.lower()) if entity_id else None
    used: set[str] = set()
    mappings = []
    for tag in tags:
        value = by_lower.get(tag.code.lower())
        codename = by_lower.get(f"{tag.code}_codename".lower()) if tag.lookup_id is not None else None
        if value or codename:
            mappings.append(MappingDef(tag=tag.code, value=value, codename=codename))
            used.update(c for c in (value, codename) if c)
    return MappingSuggestion(mappings=mappings, unmatched_columns=[c for c in columns if c not in used and c != key],
                             key_column=key, available_tags=[t.code for t in tags])
