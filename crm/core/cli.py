"""`guichet user create`, `user token` and `user tokens`: accounts and API tokens from the command line."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from crm.core import services
from crm.core.database import transaction
from crm.core.extensions import utcnow
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
@click.option("--expires", "last_day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Dernier jour de validité (AAAA-MM-JJ, heure de Paris) ; sans cette option, le jeton n'expire pas.")
def create_token_command(email: str, name: str, last_day) -> None:
    """Create an API token for an account and print it once (its expiry, if any, on the error output)."""
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    expires_at = None
    if last_day is not None:
        expires_at = services.token_expiry(last_day.date(), current_app.config["BABEL_DEFAULT_TIMEZONE"])
    try:
        with transaction():
            token, clear = services.create_api_token(user, name, expires_at=expires_at)
    except services.AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(clear)
    if token.expires_at is not None:
        click.echo(f"Expire le {_paris(token.expires_at)} (heure de Paris).", err=True)


@user_cli.command("tokens")
@click.argument("email")
def list_tokens_command(email: str) -> None:
    """List an account's API tokens: prefix, name, expiry and state (active, expired, revoked)."""
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    now = utcnow()
    for token in services.user_api_tokens(user):
        state = "révoqué" if token.revoked_at else "expiré" if token.is_expired(now) else "actif"
        expiry = f"expire le {_paris(token.expires_at)}" if token.expires_at else "sans expiration"
        click.echo(f"{token.prefix}…\t{token.name}\t{expiry}\t{state}")


def _paris(instant) -> str:
    """An instant in the display time zone, to the minute."""
    return f"{instant.astimezone(ZoneInfo(current_app.config['BABEL_DEFAULT_TIMEZONE'])):%Y-%m-%d %H:%M}"


def init_app(app: Flask) -> None:
    """Register the `guichet user` commands."""
    app.cli.add_command(user_cli)
