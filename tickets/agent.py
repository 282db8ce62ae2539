"""Agent side: the queue and the ticket page."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register this module's blueprint or commands on the application."""
