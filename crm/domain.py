"""Registration of the CRM domain (organisations, projects, portal) on the application."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the CRM domain's blueprints, CLI groups and seeders."""
