"""Demo knowledge base: French articles about a research agency's calls for projects."""

from __future__ import annotations

from knowledge_base import DATA_DIR
from knowledge_base.commands import import_articles, read_kb_lines

DEMO_KB = DATA_DIR / "demo_kb.jsonl"
DEMO_QUERIES = DATA_DIR / "demo_queries.jsonl"


def seed(context: dict) -> None:
    """Load knowledge_base/data/demo_kb.jsonl as articles written by the demo référent."""
    author = context.get("users", {}).get("referent")
    with open(DEMO_KB, encoding="utf-8") as handle:
        lines = read_kb_lines(handle, default_status="published")
    report = import_articles(lines, author=author)
    context["kb_articles"] = report.created + report.updated + report.unchanged
