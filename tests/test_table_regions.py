"""Tables that scroll sideways on a phone are named regions reachable with the keyboard (issue 13, phones).

axe's `scrollable-region-focusable`: every table wrapper (DSFR `fr-table`, which scrolls at 320 px) carries
tabindex="0", role="region" and an accessible name, in every template and in the rendered pages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "tickets", "expert", "knowledge_base", "notifications")
WRAPPER = re.compile(r'<div class="fr-table[\s"][^>]*>')


def _missing(attrs: dict) -> list[str]:
    """What a table wrapper lacks to be a focusable named region."""
    wanted = {"tabindex": attrs.get("tabindex") == "0", "role": attrs.get("role") == "region",
              "aria-label": bool((attrs.get("aria-label") or "").strip() or attrs.get("aria-labelledby"))}
    return [name for name, ok in wanted.items() if not ok]


class _Wrappers(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag == "div" and "fr-table" in (attributes.get("class") or "").split():
            self.found.append(attributes)


def unreachable_tables(html: str) -> list[str]:
    """The rendered table wrappers that are not focusable named regions, with what each lacks."""
    parser = _Wrappers()
    parser.feed(html)
    return [f"{w.get('class')}: {', '.join(_missing(w))}" for w in parser.found if _missing(w)]


def test_every_table_wrapper_of_the_templates_is_a_focusable_named_region():
    problems, seen = [], 0
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.html")):
            for tag in WRAPPER.findall(path.read_text(encoding="utf-8")):
                seen += 1
                attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
                if _missing(attrs):
                    problems.append(f"{path.relative_to(ROOT)}: {tag[:80]} lacks {', '.join(_missing(attrs))}")
    assert seen > 40, "the templates' tables were not found"
    assert problems == [], "\n".join(problems)


def test_the_detector_reads_rendered_wrappers():
    good = '<div class="fr-table" tabindex="0" role="region" aria-label="Comptes"><table></table></div>'
    assert unreachable_tables(good) == []
    assert unreachable_tables('<div class="fr-table guichet-table-wrap" aria-label=" "><table>') == [
        "fr-table guichet-table-wrap: tabindex, role, aria-label"]
