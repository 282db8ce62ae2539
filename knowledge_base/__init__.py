"""Knowledge base: articles, French text normalisation, matching index."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
