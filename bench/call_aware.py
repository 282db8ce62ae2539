"""Call-aware answers (issue 11): share auto-answered and precision, call-blind (before) and call-aware (after).

Runs the real triage (demo calls, knowledge base and rules, in a throw-away SQLite database) on two sets:
the demo questions (knowledge_base/data/demo_queries.jsonl, no call named) and bench/data/call_questions.jsonl,
questions naming a call (or from a project of a call), labelled with their call and the articles that answer
them for that call (none: only a person may answer). An automatic answer is right when its article is accepted.
"Before" is the triage as it was: candidates limited by the project's call written as the article writes it,
nothing detected in the text, no check of the article's calls. "After + click" is "after" once the requester
picked the question's call on the follow page, when they were asked: its labelled call, or for a demo question
(no call labelled) the first offered call its accepted article is about.

Run from the repository root:

    .venv/bin/python bench/call_aware.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crm import create_app  # noqa: E402
from crm.core import registry  # noqa: E402
from crm.core.config import TestConfig  # noqa: E402
from crm.core.extensions import db  # noqa: E402
from crm.core.i18n import paris_today  # noqa: E402
from expert import rules as rules_engine  # noqa: E402
from expert import services  # noqa: E402
from knowledge_base.evaluation import load_queries  # noqa: E402

DEMO_KB = ROOT / "knowledge_base" / "data" / "demo_kb.jsonl"
DEMO_QUERIES = ROOT / "knowledge_base" / "data" / "demo_queries.jsonl"
CALL_QUERIES = ROOT / "bench" / "data" / "call_questions.jsonl"


def _app(folder: str):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.sqlite3", UPLOAD_FOLDER=folder)
    return create_app(config)


def _seed(app) -> None:
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order <= 30:  # accounts, projects, calls, knowledge base, rules and référents, reference data
            seed(context)
    db.session.commit()


def before(text: str, project_call: str | None, day):
    """The call-blind triage: the project's call compared as written, no detection, no scope check."""
    candidates, articles = services.search_candidates(text, k=25)
    kept = [c for c in candidates if project_call is None or not c.calls or project_call in c.calls][:5]
    question = rules_engine.Question(subject="", body=text, call=project_call, today=day)
    question.candidates = [rules_engine.Candidate(**{**c.__dict__, "calls": ()}) for c in kept]
    return services.evaluate_question(question)[1], articles


def after(text: str, project_call: str | None, day, chosen: str | None = None):
    _question, _version, decision, articles = services.decide(subject="", body=text, call=project_call,
                                                               chosen_call=chosen, today=day)
    return decision, articles


def _article_calls() -> dict[str, set[str]]:
    rows = [json.loads(line) for line in DEMO_KB.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["id"]: set(row.get("calls") or ()) for row in rows}


def _clicked(item: dict, choices: list[str], article_calls: dict[str, set[str]]) -> str | None:
    """The call the requester picks: the labelled one, else the first offered one an accepted article is about."""
    if item.get("call"):
        return item["call"] if item["call"] in choices else None
    about = set().union(*(article_calls.get(a, set()) for a in item["accepted"]))
    return next((c for c in choices if c in about), None)


def measure(items: list[dict], day) -> dict:
    """Per mode: answered share, precision, and (after) the share asked which call."""
    article_calls = _article_calls()
    modes = {"before": [], "after": [], "after + click": []}
    asked = 0
    for item in items:
        text, project, accepted = item["query"], item.get("project"), set(item["accepted"])
        for mode in ("before", "after"):
            decision, articles = (before if mode == "before" else after)(text, project, day)
            answered = articles[decision.article_id].external_id if decision.action == "auto_answered" else None
            modes[mode].append(answered)
            if mode == "after":
                if decision.call_choices:
                    asked += 1
                clicked = _clicked(item, decision.call_choices, article_calls) if decision.call_choices else None
                if clicked is not None:
                    decision, articles = after(text, project, day, chosen=clicked)
                    answered = (articles[decision.article_id].external_id
                                if decision.action == "auto_answered" else None)
                modes["after + click"].append(answered)
        item["_accepted"] = accepted
    result = {"n": len(items), "asked_which_call": asked}
    for mode, answers in modes.items():
        done = [(a, item["_accepted"]) for a, item in zip(answers, items, strict=True) if a is not None]
        right = sum(1 for a, ok in done if a in ok)
        should = sum(1 for item in items if item["_accepted"])
        result[mode] = {"answered": len(done), "answered_share": round(len(done) / len(items), 3),
                        "right": right, "wrong": len(done) - right,
                        "precision": round(right / len(done), 3) if done else None,
                        "answerable": should}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    demo = [{"query": q.query, "accepted": sorted(q.accepted), "call": None} for q in load_queries(DEMO_QUERIES)]
    named = [json.loads(line) for line in CALL_QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as folder:
        app = _app(folder)
        with app.app_context():
            db.create_all()
            _seed(app)
            day = paris_today()
            with app.test_request_context():
                results = {"day": day.isoformat(), "demo questions": measure(demo, day),
                           "questions naming a call": measure(named, day),
                           "all": measure(demo + named, day)}
            db.session.remove()
            db.engine.dispose()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, sort_keys=True))
        return
    print(f"day {results.pop('day')}")
    print(f"{'set':26} {'mode':14} {'n':>4} {'answered':>9} {'share':>6} {'right':>6} {'wrong':>6} {'precision':>9}"
          f" {'asked':>6}")
    for name, result in results.items():
        for mode in ("before", "after", "after + click"):
            r = result[mode]
            precision = "—" if r["precision"] is None else f"{r['precision']:.3f}"
            shown = result["asked_which_call"] if mode == "after" else ""
            print(f"{name:26} {mode:14} {result['n']:>4} {r['answered']:>9} {r['answered_share']:>6.3f} "
                  f"{r['right']:>6} {r['wrong']:>6} {precision:>9} {shown!s:>6}")


if __name__ == "__main__":
    main()
