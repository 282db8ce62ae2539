"""`guichet expert rules import FILE` / `export [FILE]`: the rule set as YAML."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from crm.core.database import transaction
from expert import ruleset
from expert.rules import RuleError

expert_cli = AppGroup("expert", help="Module expert : règles de tri.")
rules_cli = AppGroup("rules", help="Règles de tri (YAML).")
expert_cli.add_command(rules_cli)


@rules_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comment", default="Import en ligne de commande", show_default=True)
def import_command(path: Path, comment: str) -> None:
    """Replace the rule set with a YAML file (a new version is recorded)."""
    try:
        with transaction():
            version = ruleset.import_yaml(path.read_text(encoding="utf-8"), by=None, comment=comment)
    except RuleError as error:
        raise click.ClickException(str(error)) from None
    count = len(ruleset.stored_rules())
    click.echo(f"{count} règle(s) importée(s) ; version {version.number if version else '-'}.")


@rules_cli.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export_command(path: Path | None) -> None:
    """Write the current rule set as YAML (to stdout without PATH)."""
    text = ruleset.dump_yaml(ruleset.rule_dicts())
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        click.echo(f"Règles écrites dans {path}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(expert_cli)
