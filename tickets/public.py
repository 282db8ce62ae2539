"""Requester side: the public request form and the follow-up page (secret link or login)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register this module's blueprint or commands on the application."""
