"""The `guichet` command: Flask's run/db commands plus demo data and accounts."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup

from crm import registry, services
from crm.extensions import db
from crm.models import Role, User

demo_cli = AppGroup("demo", help="Données de démonstration.")
user_cli = AppGroup("user", help="Comptes utilisateurs.")


def _create_app():
    from crm import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, help="Guichet : demandes, SLA, module expert, portail.")
def main() -> None:
    """Entry point of the `guichet` console script."""


def demo_already_seeded() -> bool:
    """True when the demo accounts exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) > 0


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà des comptes.")
@click.option("--tickets", "n_tickets", default=300, show_default=True, help="Nombre de demandes.")
def seed_command(if_empty: bool, n_tickets: int) -> None:
    """Load the French demo data set (accounts, queues, SLA policies, tickets, articles, projects)."""
    if if_empty and demo_already_seeded():
        click.echo("Données de démonstration déjà présentes : rien à faire.")
        return
    context: dict = {"n_tickets": n_tickets}
    try:
        for _order, name, seed in registry.seeders(current_app):
            click.echo(f"- {name}")
            seed(context)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo("Données de démonstration chargées (comptes : `guichet demo logins`).")


@demo_cli.command("logins")
def logins_command() -> None:
    """Print the demo accounts."""
    from crm.demo import DEMO_PASSWORD, demo_logins

    click.echo(f"\nComptes de démonstration (mot de passe commun : {DEMO_PASSWORD}) :")
    for label, email in demo_logins():
        click.echo(f"  {label:<36} {email}")


@user_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Nom affiché.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help="Rôle (répétable).")
@click.password_option(help="Mot de passe (12 caractères au moins).")
def create_user_command(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create an account."""
    try:
        user = services.create_user(email, name, list(roles), password)
    except services.AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Compte créé : {user.email} ({', '.join(sorted(user.role_names))}).")


@user_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def create_token_command(email: str, name: str) -> None:
    """Create an API token for an account and print it once."""
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    _token, clear = services.create_api_token(user, name)
    db.session.commit()
    click.echo(clear)


def init_app(app: Flask) -> None:
    """Register the shell's CLI groups and the shell's demo seeder."""
    from crm import demo

    app.cli.add_command(demo_cli)
    app.cli.add_command(user_cli)
    registry.add_seeder(app, 0, "comptes", demo.seed_accounts)
