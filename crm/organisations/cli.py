"""`guichet org service CODE`: an organisation's service tier and agency contact from the command line."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db
from crm.core.models import User
from crm.organisations import services
from crm.organisations.models import SERVICE_TIER_LABELS, Organisation

org_cli = AppGroup("org", help="Établissements.")


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    return user


@org_cli.command("service")
@click.argument("code")
@click.option("--tier", type=click.Choice([*SERVICE_TIER_LABELS, "herite"]), default=None,
              help="Niveau de service (« herite » : celui de l'établissement parent).")
@click.option("--contact", default=None, help="Adresse de l'interlocuteur privilégié (« aucun » pour l'enlever).")
@click.option("--by", "by_email", default=None, help="Adresse du compte à qui attribuer la modification.")
def service_command(code: str, tier: str | None, contact: str | None, by_email: str | None) -> None:
    """Show, or change, an organisation's service tier and agency contact (recorded in its history)."""
    org = db.session.scalar(sa.select(Organisation).where(Organisation.code == code))
    if org is None:
        raise click.ClickException(f"Aucun établissement de code {code}.")
    if tier is not None or contact is not None:
        new_tier = org.service_tier if tier is None else (None if tier == "herite" else tier)
        new_contact = org.agency_contact if contact is None else (None if contact == "aucun" else _user(contact))
        try:
            with transaction():
                services.set_organisation_service(org, tier=new_tier, contact=new_contact,
                                                  by=_user(by_email) if by_email else None)
        except services.ServiceError as error:
            raise click.ClickException(str(error)) from None
    contact_text = org.agency_contact.email if org.agency_contact else "aucun"
    click.echo(f"{org.name} : niveau {org.effective_service_tier}"
               f"{'' if org.service_tier else ' (hérité)'}, interlocuteur {contact_text}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(org_cli)
