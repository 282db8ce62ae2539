"""Knowledge base: articles, French text normalisation, matching index."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from knowledge_base import cli, demo, index, models, views  # noqa: F401  (models: metadata)

    app.config["KB_CALIBRATION_FILE"] = app.config["KB_CALIBRATION_FILE"] or str(demo.DEMO_QUERIES)
    index.init_index(app)
    views.init_app(app)
    cli.init_app(app)
    registry.add_seeder(app, 20, "base de connaissances", demo.seed)
