"""The `guichet` command: Flask's run/db commands plus the groups each package registers."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from crm import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), help="Guichet : demandes, SLA, module expert, portail.")
def main() -> None:
    """Entry point of the `guichet` console script."""
