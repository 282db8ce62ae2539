"""Financial annexes: validation of each partner's budget by its managing establishment before a funding decision.

The agency publishes an annex (one per partner of a project, versioned); the annex référents the establishment
designated (headquarters by SIREN, entity by SIRET) approve it or ask for corrections from the portal. A
project's funding decision is ready to issue only when each of its annexes is approved. See docs/annexes.md.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages, API, jobs and demo data of the annexes (called by tickets.init_app)."""
    from crm.core import registry
    from crm.imports import signals as import_signals
    from tickets.annexes import api, demo, jobs, services, views

    views.init_app(app)
    api.init_app(app)
    jobs.init_app(app)
    import_signals.partner_budgets_imported.connect(services.on_partner_budgets_imported)
    registry.add_seeder(app, 40, "annexes financières", demo.seed_demo_annexes)
