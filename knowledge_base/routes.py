"""Staff editing pages and public help pages of the knowledge base."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the blueprints."""
