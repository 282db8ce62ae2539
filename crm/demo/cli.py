"""`guichet demo seed` and `guichet demo logins`."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from crm.core import registry
from crm.core.database import transaction
from crm.core.extensions import db
from crm.core.models import User
from crm.demo.accounts import DEMO_PASSWORD, LABELS, REQUESTERS, STAFF
from crm.demo.projects import PORTAL_ACCOUNTS
from tickets.community.demo import DEMO_LOGIN as COMMUNITY_EXPERT

demo_cli = AppGroup("demo", help="Données de démonstration.")


def demo_already_seeded() -> bool:
    """True when the demo accounts exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) > 0


def demo_logins() -> list[tuple[str, str]]:
    """(label, e-mail) of the accounts worth showing to a newcomer, portal accounts included."""
    shown = {"agent", "referent", "manager", "admin"}
    rows = [(LABELS[key], email) for key, _n, email, _r in STAFF if key in shown]
    rows.append((LABELS["requester"], REQUESTERS[0][1]))
    rows.extend(PORTAL_ACCOUNTS)
    rows.append(COMMUNITY_EXPERT)
    return rows


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà des comptes.")
@click.option("--tickets", "n_tickets", default=300, show_default=True, help="Nombre de demandes.")
def seed_command(if_empty: bool, n_tickets: int) -> None:
    """Load the French demo data set (accounts, queues, SLA policies, tickets, articles, projects)."""
    if if_empty and demo_already_seeded():
        click.echo("Données de démonstration déjà présentes : rien à faire.")
        return
    context: dict = {"n_tickets": n_tickets}
    with transaction():
        for _order, name, seed in registry.seeders(current_app):
            click.echo(f"- {name}")
            seed(context)
    click.echo("Données de démonstration chargées (comptes : `guichet demo logins`).")


@demo_cli.command("logins")
def logins_command() -> None:
    """Print the demo accounts."""
    click.echo(f"\nComptes de démonstration (mot de passe commun : {DEMO_PASSWORD}) :")
    for label, email in demo_logins():
        click.echo(f"  {label:<36} {email}")
