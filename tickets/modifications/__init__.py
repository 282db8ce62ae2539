"""Modification requests filed online (the seven forms), worked as tickets: drafts, co-validation, review by the
référent group of the kind, reasoned decision, recording, closing once the nightly import shows the change."""

from __future__ import annotations

from flask import Flask


def _staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_staff


def _portal_filer(user) -> bool:
    from crm.portal.scope import profiles_of

    return bool(getattr(user, "is_authenticated", False)) and profiles_of(user).person_id is not None


def init_app(app: Flask) -> None:
    """Register the portal and agent pages, the API, the project-sheet block, the import reaction, the demo."""
    from crm.core import registry
    from crm.core.api import register_api_blueprint
    from crm.imports import signals as import_signals
    from tickets.attachments import register_file_holder
    from tickets.modifications import api, demo, models, services, sync  # noqa: F401  (models: metadata)
    from tickets.modifications.views import agent, portal

    app.register_blueprint(portal.bp)
    app.register_blueprint(agent.bp)
    register_api_blueprint(api.bp)
    registry.add_project_section(app, 20, portal.project_section)
    registry.add_ticket_panel(app, 8, agent.ticket_panel)
    registry.add_menu(app, 31, "Mes demandes de modification", "modifications_portal.tracking", _portal_filer)
    registry.add_menu(app, 45, "Demandes de modification", "modifications_agent.queue", _staff)
    registry.add_seeder(app, 40, "demandes de modification en ligne", demo.seed_demo)
    import_signals.import_finished.connect(services.on_import_finished)
    register_file_holder(services.draft_documents_in_use)  # a draft's documents are no orphans
    sync.install()
