"""Web pages of the expert module."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the blueprint, menus and ticket panel."""
