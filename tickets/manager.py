"""Manager pages: SLA at risk and breached, met rates, response-time percentiles."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register this module's blueprint or commands on the application."""
