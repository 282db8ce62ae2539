"""Knowledge base: articles, French text normalisation, matching index."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

DATA_DIR = Path(__file__).resolve().parent / "data"


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from knowledge_base import commands, demo, index, models, routes  # noqa: F401  (models: metadata)

    app.config.setdefault("KB_INDEX_BACKGROUND", not app.testing)
    app.config.setdefault("KB_CALIBRATION_FILE", str(DATA_DIR / "demo_queries.jsonl"))
    app.config.setdefault("RATELIMIT_KB_SUGGESTIONS", "60 per minute")
    index.init_index(app)
    routes.register(app)
    commands.register(app)
    registry.add_seeder(app, 20, "base de connaissances", demo.seed)
