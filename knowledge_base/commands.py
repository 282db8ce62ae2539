"""`guichet kb import` and `guichet kb export` (JSON lines), added to the matcher's `kb` group."""

from __future__ import annotations

from flask import Flask

from knowledge_base.cli import kb_cli


def register(app: Flask) -> None:
    """Add the `kb` command group to the application (once)."""
    if "kb" not in app.cli.commands:
        app.cli.add_command(kb_cli)
