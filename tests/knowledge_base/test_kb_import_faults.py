"""`guichet kb import` on faulty files: exit code 2, a `file:line` message, nothing imported, never a traceback."""

from __future__ import annotations

import json

import pytest
from wtforms.validators import Length

from knowledge_base import transfer
from knowledge_base.forms import ArticleForm
from knowledge_base.models import Article

LINE = {"id": "faq-1", "question": "Comment déposer ?", "answer": "En ligne.", "phrasings": ["Où déposer ?"],
        "calls": ["AAPG-2026"]}


def _import(app, tmp_path, *lines: str | dict | bytes):
    """Write the lines to kb.jsonl and run the real command on it."""
    path = tmp_path / "kb.jsonl"
    path.write_bytes(b"".join((line if isinstance(line, bytes) else
                               (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)).encode())
                              + b"\n" for line in lines))
    return app.test_cli_runner().invoke(args=["kb", "import", str(path)])


def _refused(result, line: int, message: str) -> None:
    assert result.exit_code == 2, result.output  # 1 with a traceback: an exception escaped
    assert "Traceback" not in result.output
    assert f"kb.jsonl:{line}: " in result.output and message in result.output, result.output
    assert "aucun article importé" in result.output


def test_a_nul_byte_or_a_nul_escape_is_refused_with_its_line(app, tmp_path, count_rows):
    raw = json.dumps({**LINE, "id": "faq-2"}).encode().replace(b"En ligne", b"En\x00ligne")
    result = _import(app, tmp_path, LINE, raw)
    _refused(result, 2, "JSON invalide")

    result = _import(app, tmp_path, LINE, {**LINE, "id": "faq-3", "question": "Nul\u0000 ?"},
                     {**LINE, "id": "faq-4", "meta": {"source": ["a\u0000b"]}})
    _refused(result, 2, "« question » : caractère nul")
    assert "kb.jsonl:3: « meta » : caractère nul" in result.output
    assert "kb.jsonl:1:" not in result.output and count_rows(Article) == 0


@pytest.mark.parametrize("depth", [65, 50_000])
def test_deep_nesting_is_refused_with_its_line(app, tmp_path, count_rows, depth):
    deep = json.dumps({**LINE, "id": "faq-2", "meta": {}})[:-3] + "[" * depth + "]" * depth + "}"
    result = _import(app, tmp_path, LINE, deep)
    _refused(result, 2, "JSON imbriqué sur plus de 64 niveaux")
    assert count_rows(Article) == 0


def test_a_huge_number_or_a_list_for_a_text_is_refused(app, tmp_path, count_rows):
    huge = json.dumps({**LINE, "id": "faq-2"})[:-1] + ', "valid_from": ' + "9" * 5000 + "}"
    result = _import(app, tmp_path, LINE, huge, {**LINE, "id": "faq-3", "topic": ["depot"]},
                     {**LINE, "id": "faq-4", "language": {"fr": True}})
    _refused(result, 2, "JSON illisible (un nombre dépasse 4 300 chiffres)")
    assert "kb.jsonl:3: « topic » : texte attendu" in result.output
    assert "kb.jsonl:4: « language » : texte attendu" in result.output
    assert count_rows(Article) == 0


def test_the_web_form_length_limits_apply(app, tmp_path, count_rows):
    result = _import(app, tmp_path, {**LINE, "answer": "a" * 50_001},
                     {**LINE, "id": "faq-2", "phrasings": [f"Formulation {i} " + "x" * 480 for i in range(21)]},
                     {**LINE, "id": "faq-3", "calls": [f"AAPG-{i:04d}" for i in range(60)]},
                     {**LINE, "id": "faq-4", "question": "q" * 501})
    _refused(result, 1, "« answer » : 50000 caractères au plus")
    assert "kb.jsonl:2: « phrasings » : 10000 caractères au plus" in result.output
    assert "kb.jsonl:3: « calls » : 500 caractères au plus" in result.output
    assert "kb.jsonl:4: La question ne doit pas dépasser 500 caractères" in result.output
    assert count_rows(Article) == 0

    result = _import(app, tmp_path, {**LINE, "answer": "a" * 50_000})
    assert result.exit_code == 0, result.output
    assert count_rows(Article) == 1


def test_the_limits_are_the_article_forms():
    def maximum(field) -> int:
        return next(v.max for v in field.kwargs["validators"] if isinstance(v, Length))

    form = (maximum(ArticleForm.answer), maximum(ArticleForm.phrasings), maximum(ArticleForm.calls))
    assert form == (transfer.MAX_ANSWER, transfer.MAX_PHRASINGS, transfer.MAX_CALLS)
    assert maximum(ArticleForm.question) == Article.__table__.c.question.type.length == 500
