"""The nightly import of the business systems' files into organisations, people and projects."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the `guichet import` commands, the runs' pages and the menu entry."""
    from crm.core import registry
    from crm.core.models import Role
    from crm.imports import cli, models, views  # noqa: F401  (models: metadata)

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.import_cli)
    registry.add_menu(app, 80, "Imports", "crm_imports.runs",
                      lambda u: getattr(u, "is_authenticated", False) and u.has_role(Role.ADMIN))
