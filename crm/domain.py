"""Registration of the CRM domain (organisations, projects, portal) on the application."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the CRM domain's models, blueprints, CLI groups, menus and seeders."""
    from crm import models_orgs, models_portal, models_projects  # noqa: F401  (tables in the metadata)
    from crm.import_cli import import_cli

    app.cli.add_command(import_cli)
