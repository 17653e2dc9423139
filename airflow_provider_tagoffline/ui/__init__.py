"""The web view: a single page served by the plugin's app under ``/tag-offline/ui/``.

Shown inside the Airflow UI (an external view in an iframe); it calls the REST API with the UI's
``_token`` cookie. No build step: plain HTML, CSS and JavaScript in ``static/``.
"""
