"""Demo knowledge base: French articles about a research agency's calls for projects."""

from __future__ import annotations


def seed(context: dict) -> None:
    """Load knowledge_base/data/demo_kb.jsonl as published articles."""
