"""The nightly import of the business systems' files into organisations, people and projects."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the `guichet import` commands, the runs' pages, the nightly job and the menu entry."""
    from crm.core import registry
    from crm.core.models import Role
    from crm.imports import cli, models, services, signals, views  # noqa: F401  (models: metadata)
    from notifications.scheduler import parse_time

    app.register_blueprint(views.bp)
    hour, minute = parse_time(app.config["IMPORT_TIME"])
    zone = app.config["BABEL_DEFAULT_TIMEZONE"]
    registry.add_job(app, "nightly_import", services.nightly_import_job,
                     {"trigger": "cron", "hour": hour, "minute": minute, "timezone": zone})
    signals.import_finished.connect(services.on_import_finished)
    app.cli.add_command(cli.import_cli)
    registry.add_menu(app, 80, "Imports", "crm_imports.runs",
                      lambda u: getattr(u, "is_authenticated", False) and u.has_role(Role.ADMIN))
