"""The assistant on the demo questions (issue 14, part 1): what it replies first, and how often it is right.

Runs the real conversation logic (expert.conversations, demo calls, knowledge base and rules, in a throw-away
SQLite database, the lexical matcher unless --semantic) on knowledge_base/data/demo_queries.jsonl. For each
question: the first reply (answer, which article, which call, no sure answer); after one click a simulated
person makes the right choice (an offered article they were looking for, else the first; for a call, the first
offered call the accepted article applies to). An answer is right when its article is accepted for the question.

Run from the repository root:

    .venv/bin/python bench/assistant.py [--semantic] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crm import create_app  # noqa: E402
from crm.core import registry  # noqa: E402
from crm.core.config import TestConfig  # noqa: E402
from crm.core.extensions import db  # noqa: E402
from expert import conversations  # noqa: E402
from expert.models import TurnKind  # noqa: E402
from knowledge_base.evaluation import load_queries  # noqa: E402
from knowledge_base.models import Article  # noqa: E402

DEMO_QUERIES = ROOT / "knowledge_base" / "data" / "demo_queries.jsonl"
SEEDERS = (12, 20, 25, 30)  # calls, knowledge base, rules, queues and topics


def _app(folder: str, semantic: bool):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.sqlite3", UPLOAD_FOLDER=folder,
                  KB_SEMANTIC=semantic)
    return create_app(config)


def _click(turn, accepted: set[str], external: dict[int, str], calls: dict[str, list[str]]) -> str:
    """The option a person looking for one of ``accepted`` clicks."""
    if turn.kind == TurnKind.ASK_ARTICLE:
        wanted = [o["value"] for o in turn.options if external.get(int(o["value"])) in accepted]
        return wanted[0] if wanted else turn.options[0]["value"]
    fitting = {c for a in accepted for c in calls.get(a, [])}
    wanted = [o["value"] for o in turn.options if o["value"] in fitting]
    return wanted[0] if wanted else conversations.OTHER_CALL


def run(semantic: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = _app(folder, semantic)
        with app.app_context(), app.test_request_context():
            db.create_all()
            context: dict = {"n_tickets": 0}
            for order, _name, seed in registry.seeders(app):
                if order in SEEDERS:
                    seed(context)
            db.session.commit()
            if semantic:  # the articles' vectors, then an index with the semantic channel
                from knowledge_base.index import refresh_index
                from knowledge_base.vectors import embed_pending

                embed_pending()
                db.session.commit()
                refresh_index()
            articles = list(db.session.scalars(db.select(Article)))
            external = {a.id: a.external_id for a in articles}
            calls = {a.external_id: list(a.calls or []) for a in articles}
            first, final, right_first, right_final = Counter(), Counter(), 0, 0
            queries = load_queries(DEMO_QUERIES)
            for labelled in queries:
                conversation, _key = conversations.start_conversation(user=None)
                reply = conversations.ask(conversation, labelled.query)
                first[str(reply.kind)] += 1
                accepted = set(labelled.accepted)
                if reply.kind == TurnKind.ANSWER and external.get(reply.article_id) in accepted:
                    right_first += 1
                if reply.kind in (TurnKind.ASK_ARTICLE, TurnKind.ASK_CALL):
                    reply = conversations.choose(conversation, _click(reply, accepted, external, calls))
                final[str(reply.kind)] += 1
                if reply.kind == TurnKind.ANSWER and external.get(reply.article_id) in accepted:
                    right_final += 1
            db.session.rollback()
    n = len(queries)
    return {"questions": n, "first_reply": dict(first), "after_one_click": dict(final),
            "answered_first": first["answer"] / n,
            "precision_first": right_first / first["answer"] if first["answer"] else None,
            "answered_after_click": final["answer"] / n,
            "precision_after_click": right_final / final["answer"] if final["answer"] else None,
            "right_after_click": right_final / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semantic", action="store_true", help="with the semantic channel (KB_SEMANTIC)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(semantic=args.semantic)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['questions']} demo questions")
    print(f"first reply: {result['first_reply']}")
    print(f"answered at once: {result['answered_first']:.1%}, precision {result['precision_first']:.1%}")
    print(f"after one click: {result['after_one_click']}")
    print(f"answered: {result['answered_after_click']:.1%}, precision {result['precision_after_click']:.1%}, "
          f"right answers {result['right_after_click']:.1%} of the questions")


if __name__ == "__main__":
    main()
