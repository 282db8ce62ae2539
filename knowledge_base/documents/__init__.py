"""Call documents: uploaded by référents, split into passages indexed with the articles (docs/documents.md)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages and the demo documents."""
    from crm.core import registry
    from knowledge_base.documents import demo, models, views  # noqa: F401  (models: metadata)

    views.init_app(app)
    registry.add_seeder(app, 21, "documents d'appel", demo.seed)
