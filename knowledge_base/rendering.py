"""Markdown answers rendered to safe HTML (markdown, then nh3 with an allow-list)."""

from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h2",
                "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align", "scope"}, "td": {"align"}}


def render_markdown(text: str | None) -> Markup:
    """Return the sanitised HTML of a Markdown text (scripts, styles and event handlers removed)."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer")
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def plain_excerpt(text: str | None, limit: int = 220) -> str:
    """Return the beginning of an answer as plain text (tags stripped), cut on a word boundary."""
    html = markdown.markdown(text or "", output_format="html")
    plain = " ".join(nh3.clean(html, tags=set()).split())
    plain = plain.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    if len(plain) <= limit:
        return plain
    return plain[:limit].rsplit(" ", 1)[0] + "…"
