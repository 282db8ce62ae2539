"""Answers shared between establishments: questions opened to the community's experts with the requester's consent,
anonymised; answers moderated by a référent, sent to the requester and kept as draft articles. See docs/community.md.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the community's pages, panels and demo data (called by tickets.init_app)."""
    from crm.core import registry
    from tickets.community import api, demo, views

    views.init_app(app)
    api.init_app(app)
    registry.add_seeder(app, 45, "communauté d'experts", demo.seed_demo_community)
