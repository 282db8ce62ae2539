"""Guichet: `create_app` assembles the shell (crm.core), the CRM domains and the other packages."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from crm.core.config import Config, check_config, default_database_uri, load_environment
from crm.core.extensions import babel, csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type | dict | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, CLI groups and signal handlers."""
    app = Flask(__name__, instance_path=os.environ.get("GUICHET_INSTANCE_PATH") or None,
                instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    load_environment(app.config)
    if isinstance(config, dict):  # explicit overrides win over the environment (tests)
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = (
        app.config.get("SQLALCHEMY_DATABASE_URI") or default_database_uri(app.instance_path)
    )
    app.config["UPLOAD_FOLDER"] = app.config["UPLOAD_FOLDER"] or str(Path(app.instance_path) / "uploads")
    check_config(app.config)
    if app.config.get("ENV_NAME") == "production":  # served over HTTPS: cookies never travel in clear
        app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = True

    _init_extensions(app)
    _register_shell(app)
    _trust_proxies(app)
    _register_domains(app)
    if app.config["SCHEDULER_IN_PROCESS"] and not app.testing:
        from notifications.scheduler import start_in_process

        start_in_process(app)
    return app


def _init_extensions(app: Flask) -> None:
    """Bind the extensions created in crm.core.extensions."""
    from crm.core import i18n

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = i18n.LOGIN_MESSAGE
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    limiter.init_app(app)
    if app.config.get("SQLALCHEMY_DATABASE_URI", "").startswith("sqlite"):
        from crm.core.database import enable_sqlite_pragmas

        enable_sqlite_pragmas(app)
    else:
        from crm.core.database import enable_postgresql_liveness_check

        enable_postgresql_liveness_check(app)


def _register_shell(app: Flask) -> None:
    """Blueprints, error handlers, template helpers and CLI of the shell itself."""
    from crm.core import api, auth, cli, errors, i18n, inputs, refcache, security, views

    refcache.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    api.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    cli.init_app(app)

    from flask import current_app
    from flask_login import current_user

    from crm.core.registry import home_cards_for, menu_for

    app.add_template_global(lambda: menu_for(current_app, current_user), "main_menu")
    app.add_template_global(lambda: home_cards_for(current_app, current_user), "home_cards")

    @app.after_request
    def _commit_or_rollback(response):
        """One commit point per request: commit on success, roll back on an error status."""
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    app.after_request(security.security_headers)

    from crm.core import redaction

    redaction.init_app(app)  # no secret token of a URL in the development server's or the application's log


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client is the address they forward (rate limits, logs)."""
    from crm.core.security import trust_proxies

    trust_proxies(app)


def _register_domains(app: Flask) -> None:
    """Let each domain package register its blueprints, CLI groups, seeders and signal handlers."""
    import crm.demo
    import crm.imports
    import crm.organisations
    import crm.portal
    import crm.projects
    import expert
    import knowledge_base
    import notifications
    import tickets

    packages = (crm.organisations, crm.projects, crm.portal, crm.imports, knowledge_base, expert, tickets,
                notifications, crm.demo)
    with app.app_context():  # lets init_app() functions reach current_app (e.g. the API registry)
        for package in packages:
            package.init_app(app)
