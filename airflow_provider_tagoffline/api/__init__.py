"""The REST API of the plugin (a FastAPI app under /tag-offline)."""
