"""Command-line interface of the knowledge base (``flask kb ...``)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from knowledge_base.evaluation import EvaluationInputError, evaluate_files

kb_cli = AppGroup("kb", help="Base de connaissances.")


@kb_cli.command("evaluate", with_appcontext=False)
@click.argument("kb", type=click.Path(dir_okay=False))
@click.argument("queries", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Écrit un seul objet JSON au lieu du texte.")
def evaluate_command(kb: str, queries: str, as_json: bool) -> None:
    """Évalue l'appariement sur KB (kb.jsonl) et QUERIES (queries.jsonl), sans base de données."""
    try:
        result = evaluate_files(kb, queries)
    except EvaluationInputError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        raise SystemExit(2) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), sort_keys=True))
        return
    click.echo(f"Entrées : {result.n_entries}   questions : {result.n_queries}")
    click.echo(f"top-1   : {result.top1:.3f}")
    click.echo(f"top-5   : {result.top5:.3f}")
    click.echo(f"MRR@10  : {result.mrr:.3f}")
    click.echo(f"latence : p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")
