"""Knowledge base: articles, French text normalisation, matching index."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from knowledge_base import cli, demo, documents, index, models, views  # noqa: F401  (models: metadata)

    app.config["KB_CALIBRATION_FILE"] = app.config["KB_CALIBRATION_FILE"] or str(demo.DEMO_QUERIES)
    index.init_index(app)
    views.init_app(app)
    documents.init_app(app)
    cli.init_app(app)
    registry.add_seeder(app, 20, "base de connaissances", demo.seed)
    if app.config["KB_SEMANTIC"]:
        registry.add_job(app, "kb_embeddings", _embed_job, {"trigger": "interval", "minutes": 1})


def _embed_job() -> dict[str, int]:
    """Embed the knowledge-base texts that have no vector yet (the scheduler commits after)."""
    from flask import current_app

    from knowledge_base.index import index_service
    from knowledge_base.vectors import embed_pending

    return embed_pending(limit=current_app.config["KB_EMBED_BATCH"],
                         questions=index_service().calibration_questions())
