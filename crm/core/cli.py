"""`guichet user create` and `guichet user token`: accounts from the command line."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from crm.core import services
from crm.core.database import transaction
from crm.core.models import Role

user_cli = AppGroup("user", help="Comptes utilisateurs.")


@user_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Nom affiché.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help="Rôle (répétable).")
@click.password_option(help="Mot de passe (12 caractères au moins).")
def create_user_command(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create an account."""
    try:
        with transaction():
            user = services.create_user(email, name, list(roles), password)
    except services.AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Compte créé : {user.email} ({', '.join(sorted(user.role_names))}).")


@user_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def create_token_command(email: str, name: str) -> None:
    """Create an API token for an account and print it once."""
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    with transaction():
        _token, clear = services.create_api_token(user, name)
    click.echo(clear)


def init_app(app: Flask) -> None:
    """Register the `guichet user` commands."""
    app.cli.add_command(user_cli)
