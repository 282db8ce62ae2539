"""The annexes' pages: the portal's (référents and their designation) and the agency's (queue, publication)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tickets.annexes.views import agent, portal

    portal.init_app(app)
    agent.init_app(app)
