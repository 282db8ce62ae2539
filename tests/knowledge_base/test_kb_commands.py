"""`guichet kb import` / `kb export`: upsert by id, all-or-nothing, round trip."""

from __future__ import annotations

import json

from knowledge_base import services
from knowledge_base.demo import DEMO_KB
from knowledge_base.models import Article, ArticleRevision


def _write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    return str(path)


LINE = {"id": "faq-1", "question": "Comment déposer ?", "answer": "En ligne.", "meta": {"source": "test"},
        "phrasings": ["Où déposer ?"], "topic": "depot", "calls": ["AAPG-2026"], "valid_until": "2030-01-01"}


def test_import_creates_then_updates_by_id(app, tmp_path, count_rows):
    runner = app.test_cli_runner()
    path = _write(tmp_path / "kb.jsonl", [LINE, {"id": "faq-2", "question": "", "answer": "Réponse seule",
                                                 "meta": {}}])
    result = runner.invoke(args=["kb", "import", path])
    assert result.exit_code == 2, result.output  # an article needs a question
    assert "kb.jsonl:2:" in result.output and count_rows(Article) == 0

    path = _write(tmp_path / "kb.jsonl", [LINE])
    result = runner.invoke(args=["kb", "import", path])
    assert result.exit_code == 0, result.output
    article = services.article_by_external_id("faq-1")
    assert article.status == "published" and article.meta == {"source": "test"}
    assert article.valid_until.isoformat() == "2030-01-01"

    path = _write(tmp_path / "kb.jsonl", [{**LINE, "answer": "En ligne, sur la plateforme."}])
    result = runner.invoke(args=["kb", "import", path])
    assert "mis à jour : 1" in result.output
    assert count_rows(Article) == 1
    assert count_rows(ArticleRevision, ArticleRevision.article_id == article.id) == 2
    assert runner.invoke(args=["kb", "import", path]).output.count("inchangés : 1") == 1


def test_malformed_file_lists_every_error_and_imports_nothing(app, tmp_path, count_rows):
    path = _write(tmp_path / "bad.jsonl", [
        LINE,
        "{not json",
        "[1, 2]",
        {**LINE, "id": "faq-1"},
        {**LINE, "id": "faq-3", "calls": "AAPG-2026"},
        {**LINE, "id": "faq-4", "valid_until": "demain"},
        {**LINE, "id": ""},
    ])
    result = app.test_cli_runner().invoke(args=["kb", "import", path])
    assert result.exit_code == 2
    for line in (2, 3, 4, 5, 6, 7):
        assert f"bad.jsonl:{line}:" in result.output
    assert "bad.jsonl:1:" not in result.output
    assert "aucun article importé" in result.output
    assert count_rows(Article) == 0


def test_missing_or_empty_file(app, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["kb", "import", str(tmp_path / "absent.jsonl")]).exit_code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert runner.invoke(args=["kb", "import", str(empty)]).exit_code == 2
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    assert runner.invoke(args=["kb", "import", str(binary)]).exit_code == 2


def test_export_then_import_round_trips(app, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["kb", "import", str(DEMO_KB)]).exit_code == 0
    draft = services.create_article({"question": "Brouillon ?", "answer": "Oui."}, None, external_id="brouillon")
    assert draft.status == "draft"
    first = tmp_path / "export1.jsonl"
    assert runner.invoke(args=["kb", "export", str(first)]).exit_code == 0
    records = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 61
    assert {"id", "question", "answer", "meta", "phrasings", "topic", "calls", "status"} <= set(records[0])
    result = runner.invoke(args=["kb", "import", str(first)])
    assert "créés : 0, mis à jour : 0" in result.output
    second = tmp_path / "export2.jsonl"
    runner.invoke(args=["kb", "export", str(second)])
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    original = {json.loads(line)["id"]: json.loads(line) for line in DEMO_KB.read_text(encoding="utf-8").splitlines()}
    exported = {r["id"]: r for r in records}
    for key, record in original.items():
        assert {k: exported[key][k] for k in record} == record


def test_export_by_status(app, tmp_path):
    services.create_article({"question": "Publié ?", "answer": "Oui.", "status": "published"}, None)
    services.create_article({"question": "Brouillon ?", "answer": "Oui."}, None)
    out = tmp_path / "published.jsonl"
    app.test_cli_runner().invoke(args=["kb", "export", "--status", "published", str(out)])
    assert [json.loads(line)["question"] for line in out.read_text(encoding="utf-8").splitlines()] == ["Publié ?"]
