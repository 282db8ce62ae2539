"""Demo knowledge base: French articles about a research agency's calls for projects."""

from __future__ import annotations

from pathlib import Path

from knowledge_base.transfer import import_articles, read_kb_lines

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_KB = DATA_DIR / "demo_kb.jsonl"
DEMO_QUERIES = DATA_DIR / "demo_queries.jsonl"


def seed(context: dict) -> None:
    """Load knowledge_base/data/demo_kb.jsonl as articles written by the demo référent."""
    author = context.get("users", {}).get("referent")
    with open(DEMO_KB, encoding="utf-8") as handle:
        lines = read_kb_lines(handle, default_status="published")
    report = import_articles(lines, author=author)
    context["kb_articles"] = report.created + report.updated + report.unchanged
