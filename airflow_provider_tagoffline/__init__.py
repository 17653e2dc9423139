"""Tag offline services for Apache Airflow.

One package that is both an Airflow provider (hooks, operator, config section) and an Airflow
plugin (REST API, web view). See ``docs/architecture.md`` for the map of the modules.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
#: the name pip knows this package by (``pip install 'airflow-provider-tagoffline[mysql]'``)
DISTRIBUTION = "airflow-provider-tagoffline"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_tagoffline.config import CONFIG_OPTIONS

    return {
        "package-name": DISTRIBUTION,
        "name": "Tag Offline",
        "description": "Tag offline services: deliver warehouse entity tags into application "
        "databases every day with an atomic table swap.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Tag Offline",
                "external-doc-url": "https://github.com/airflow-provider-tagoffline",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "Tag Offline",
                "python-modules": ["airflow_provider_tagoffline.operators.tag_offline"],
            }
        ],
        "plugins": [
            {"name": "tag_offline", "plugin-class": "airflow_provider_tagoffline.plugin.TagOfflinePlugin"}
        ],
        "config": {
            "tag_offline": {
                "description": "Tag offline services: catalog store, rendered DAGs, warehouse.",
                "options": {
                    name: {
                        "description": option.description,
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": option.example,
                        "default": option.default_doc,
                    }
                    for name, option in CONFIG_OPTIONS.items()
                },
            }
        },
    }
