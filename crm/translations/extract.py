"""Babel extractor: Python messages, plus the French values of label dictionaries translated at run time."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python

#: Module- or class-level names whose dict literal values are French labels passed to `_()` when displayed.
DEFAULT_LABEL_NAMES = r"(^|_)LABELS$"


def _target_names(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def label_strings(source: str, pattern: str = DEFAULT_LABEL_NAMES) -> Iterator[tuple[int, str]]:
    """(line, text) of every string value of a dict literal assigned to a name matching `pattern`."""
    name_re = re.compile(pattern)
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or not isinstance(node.value, ast.Dict):
            continue
        if any(name_re.search(name) for name in _target_names(node)):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
                    yield value.lineno, value.value


def extract(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
            options: Mapping[str, Any]) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's Python extraction, then the label dictionaries (option `label_names`: a regular expression)."""
    data = fileobj.read()
    yield from extract_python(io.BytesIO(data), keywords, comment_tags, options)
    encoding = options.get("encoding", "utf-8")
    for lineno, text in label_strings(data.decode(encoding), options.get("label_names", DEFAULT_LABEL_NAMES)):
        yield lineno, None, text, []
