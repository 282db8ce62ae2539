"""The pages of the tickets package, one module per audience: requesters, agents, managers, triage."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint of the tickets pages, with their menus and home pages."""
    from tickets.views import (
        agent,
        assistant,
        crm_panels,
        drafts,
        identity,
        links,
        manager,
        on_behalf,
        portal_contact,
        public,
        search,
        surveys,
        triage,
    )

    for module in (public, identity, portal_contact, crm_panels, agent, on_behalf, links, manager, triage, surveys,
                   assistant, drafts, search):
        module.init_app(app)
