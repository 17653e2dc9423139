"""The catalog store: applications, entities, tags, lookups, grants, services and the audit log."""
