"""Modification requests filed online (the seven forms), worked as tickets: drafts, co-validation, review by the
référent group of the kind, reasoned decision, recording, closing once the nightly import shows the change."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the portal and agent pages, the API, the import reaction, the demo seeder (tickets.init_app)."""
    from crm.imports import signals as import_signals
    from tickets.modifications import models, services  # noqa: F401  (models: metadata)

    import_signals.import_finished.connect(services.on_import_finished)
