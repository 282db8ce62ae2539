"""The demo data set: accounts, establishments and projects, and the `guichet demo` commands.

Each domain package registers its own seeder (crm.core.registry.add_seeder); this package adds the first
two and the commands that run them all.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the `guichet demo` commands and the accounts and projects seeders."""
    from crm.core import registry
    from crm.demo import accounts, cli, projects

    app.cli.add_command(cli.demo_cli)
    registry.add_seeder(app, 0, "comptes", accounts.seed_accounts)
    registry.add_seeder(app, 10, "établissements et projets", projects.seed)
