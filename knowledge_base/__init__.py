"""Knowledge base: articles, French text normalisation, matching index."""

from __future__ import annotations

from flask import Flask

def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from knowledge_base import cli, demo, index, models, views  # noqa: F401  (models: metadata)

    app.config.setdefault("KB_INDEX_BACKGROUND", not app.testing)
    app.config.setdefault("KB_CALIBRATION_FILE", str(demo.DEMO_QUERIES))
    app.config.setdefault("RATELIMIT_KB_SUGGESTIONS", "60 per minute")
    index.init_index(app)
    views.init_app(app)
    cli.init_app(app)
    registry.add_seeder(app, 20, "base de connaissances", demo.seed)
