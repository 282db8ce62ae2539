"""`guichet setup defaults` and `guichet config …`: the service's configuration from the command line.

``config export`` writes queues, topics, calendars, SLA policies and saved replies as YAML; ``config import``
applies such a file through the same services as the pages (validated, versioned, all or nothing);
``config preview`` and ``config recompute`` list and recompute the open tickets a policy or calendar change affects.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
import yaml
from flask import Flask
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db
from crm.core.models import User
from tickets.admin import services
from tickets.admin.defaults import install_defaults
from tickets.models import CannedResponse, Queue, SlaCalendar, SlaPolicy, Topic

setup_cli = AppGroup("setup", help="Mise en service d'une nouvelle instance.")
config_cli = AppGroup("config", help="Configuration du service : files, thèmes, calendriers, délais, réponses types.")

#: Section of the YAML file -> (model, the key that identifies an item, save function)
SECTIONS = {
    "calendars": (SlaCalendar, "name", services.save_calendar),
    "queues": (Queue, "slug", services.save_queue),
    "topics": (Topic, "slug", services.save_topic),
    "policies": (SlaPolicy, "name", services.save_policy),
    "saved_replies": (CannedResponse, "title", services.save_reply),
}


@setup_cli.command("defaults")
def defaults_command() -> None:
    """Add the default calendars, general queue and topic, and standard SLA policies that are missing."""
    with transaction():
        added = install_defaults()
    click.echo("Configuration par défaut : " + ", ".join(f"{n} {key} ajouté(s)" for key, n in added.items()) + ".")


@config_cli.command("export")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Fichier (par défaut : sortie).")
def export_command(output) -> None:
    """Write the whole configuration as YAML (the format `config import` reads)."""
    document = {section: [services.snapshot(row) for row in db.session.scalars(
        sa.select(model).order_by(getattr(model, key)))]
        for section, (model, key, _save) in SECTIONS.items()}
    yaml.safe_dump(document, output, allow_unicode=True, sort_keys=False, width=110)


@config_cli.command("import")
@click.argument("document", type=click.File("r", encoding="utf-8"))
@click.option("--by", "by_email", default=None, help="Adresse du compte à qui attribuer les modifications.")
def import_command(document, by_email: str | None) -> None:
    """Create or update the items of a YAML file (matched by slug, name or title); nothing is saved on an error."""
    try:
        content = yaml.safe_load(document) or {}
    except yaml.YAMLError as error:
        raise click.ClickException(f"YAML illisible : {error}") from None
    if not isinstance(content, dict) or set(content) - set(SECTIONS):
        raise click.ClickException(f"Sections attendues : {', '.join(SECTIONS)}.")
    by = _account(by_email)
    counts = {"created": 0, "updated": 0}
    try:
        with transaction():
            for section, (model, key, save) in SECTIONS.items():
                for number, item in enumerate(content.get(section) or [], start=1):
                    if not isinstance(item, dict):
                        raise click.ClickException(f"{section}, élément {number} : un dictionnaire est attendu.")
                    current = db.session.scalar(sa.select(model).where(getattr(model, key) == item.get(key)))
                    try:
                        save(current, services.data_from_document(current, item), by=by)
                    except services.ConfigError as error:
                        where = f" ({error.field})" if error.field else ""
                        raise click.ClickException(f"{section}, « {item.get(key)} »{where} : {error}") from None
                    counts["updated" if current is not None else "created"] += 1
    except click.ClickException as error:
        raise click.ClickException(f"{error.message} Aucune modification enregistrée.") from None
    click.echo(f"Configuration importée : {counts['created']} élément(s) créé(s), {counts['updated']} examiné(s) "
               "pour mise à jour.")


def _account(email: str | None) -> User | None:
    if email is None:
        return None
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    return user


def _target(policy: str | None, calendar: str | None):
    if (policy is None) == (calendar is None):
        raise click.UsageError("Indiquez --policy NOM ou --calendar NOM.")
    model, name = (SlaPolicy, policy) if policy is not None else (SlaCalendar, calendar)
    row = db.session.scalar(sa.select(model).where(model.name == name))
    if row is None:
        raise click.ClickException(f"Introuvable : {name}.")
    return row


@config_cli.command("preview")
@click.option("--policy", default=None, help="Nom de la politique de délai.")
@click.option("--calendar", default=None, help="Nom du calendrier.")
def preview_command(policy: str | None, calendar: str | None) -> None:
    """List the open tickets whose policy or due times the current configuration changes."""
    preview = services.preview_impact(_target(policy, calendar))
    for impact in preview.impacts:
        due = impact.due_after["resolution"]
        click.echo(f"{impact.ticket.reference}\t{impact.policy_before or '-'} -> {impact.policy_after or '-'}\t"
                   f"{due.isoformat() if due else '-'}")
    click.echo(f"{preview.count} demande(s) ouverte(s) concernée(s)"
               + (f" ({preview.examined} examinée(s) sur {preview.candidates})." if preview.truncated else "."))


@config_cli.command("recompute")
@click.option("--policy", default=None, help="Nom de la politique de délai.")
@click.option("--calendar", default=None, help="Nom du calendrier.")
@click.option("--by", "by_email", default=None, help="Adresse du compte à qui attribuer le recalcul.")
def recompute_command(policy: str | None, calendar: str | None, by_email: str | None) -> None:
    """Recompute the due times of the open tickets `config preview` lists, and commit."""
    with transaction():
        changed = services.recompute_impact(_target(policy, calendar), by=_account(by_email))
    click.echo(f"Échéances recalculées : {changed} demande(s) ouverte(s).")


def init_app(app: Flask) -> None:
    """Register the `setup` and `config` command groups."""
    app.cli.add_command(setup_cli)
    app.cli.add_command(config_cli)
