"""Call documents: splitting (headings, pages), refused files, versions, validity, pages, access, drafts."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from crm.core.extensions import db
from knowledge_base.documents import services
from knowledge_base.documents.extraction import DocumentError, read_document
from knowledge_base.documents.models import CallDocument, DocumentPassage, DocumentVersion
from knowledge_base.index import search_passages, today
from knowledge_base.models import Article

RULES_MD = """# Règlement AAPG 2026

Texte d'introduction du règlement.

## 3. Engagement du coordinateur

### 3.1 Temps consacré au projet

Le coordinateur consacre au projet au moins 30 % de son temps de recherche pendant toute sa durée.

## 4. Égalité entre les femmes et les hommes

La proposition décrit la prise en compte de l'égalité entre les femmes et les hommes.
"""
QUESTION = "Quel pourcentage de son temps de recherche le coordinateur doit-il consacrer au projet ?"


def make_pdf(pages: list[list[str]], password: str | None = None) -> bytes:
    """A PDF with one text line per entry on each page (Helvetica), encrypted with RC4 when ``password``."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))
    for lines in pages:
        page = writer.add_blank_page(595, 842)
        escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
        stream = DecodedStreamObject()
        stream.set_data("\n".join(["BT", "/F1 11 Tf", "14 TL", "50 800 Td", *(f"({t}) Tj T*" for t in escaped), "ET"])
                        .encode("cp1252"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    if password:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = make_pdf([["1. Durée du projet", "La durée est de 24 à 48 mois.", "", "Elle est justifiée au dépôt."],
                ["2. Dépenses éligibles", "Les frais de mission sont éligibles."]])


# -- splitting (pure) --------------------------------------------------------------------------------


def test_markdown_and_html_are_split_under_their_heading_path():
    kind, passages = read_document("reglement.md", RULES_MD.encode())
    assert kind == "markdown"
    assert [p.heading_path for p in passages] == [
        ("Règlement AAPG 2026",),
        ("Règlement AAPG 2026", "3. Engagement du coordinateur", "3.1 Temps consacré au projet"),
        ("Règlement AAPG 2026", "4. Égalité entre les femmes et les hommes")]
    html = ("<html><head><title>Ignoré</title><style>p{}</style></head><body><h1>Calendrier</h1><h2>Étape 1</h2>"
            "<p>Clôture le <b>10 décembre</b> à 13 h.</p><script>alert(1)</script><ul><li>Résultats en mars.</li>"
            "</ul></body></html>")
    kind, passages = read_document("calendrier.html", html.encode())
    assert kind == "html"
    assert passages == [passages[0].__class__("Clôture le 10 décembre à 13 h. Résultats en mars.",
                                              ("Calendrier", "Étape 1"), None)]


def test_a_pdf_is_split_by_page_with_its_numbered_headings():
    kind, passages = read_document("guide.pdf", PDF)
    assert kind == "pdf"
    assert [(p.heading_path, p.page, p.text) for p in passages] == [
        (("1. Durée du projet",), 1, "La durée est de 24 à 48 mois. Elle est justifiée au dépôt."),
        (("2. Dépenses éligibles",), 2, "Les frais de mission sont éligibles.")]


def test_a_long_section_is_cut_between_sentences():
    sentence = "Une phrase assez longue sur les règles de l'appel générique. "
    _kind, passages = read_document("long.md", ("# Titre\n\n" + sentence * 80).encode())
    assert len(passages) > 2 and all(len(p.text) <= 1500 for p in passages)
    assert all(p.text.endswith(".") for p in passages)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("protege.pdf", make_pdf([["Texte secret"]], password="secret"), "protégé par un mot de passe"),
    ("casse.pdf", PDF[: len(PDF) // 3], "illisible ou endommagé"),
    ("vide.pdf", make_pdf([[]]), "Aucun texte"),
    ("faux.pdf", b"# pas un PDF", "ne correspond pas"),
    ("faux.md", PDF, "ne correspond pas"),
    ("note.docx", b"PK\x03\x04word/document.xml", "DOCX et ODT"),
    ("programme.exe", b"MZ\x90\x00", "Type de fichier non accepté"),
    ("vide.md", b"  \n", "vide"),
])
def test_bad_files_are_refused_with_a_clear_message(name, content, message):
    with pytest.raises(DocumentError, match=message):
        read_document(name, content)


# -- upload, versions, validity (database) -----------------------------------------------------------


def upload(content: bytes = RULES_MD.encode(), filename: str = "reglement.md", **facts):
    values = {"title": "Règlement AAPG 2026", "call_code": "aapg-2026", "author": None, **facts}
    return services.upload_document(filename=filename, content=content, **values)


def test_refused_uploads_write_nothing(app, monkeypatch, count_rows):
    monkeypatch.setitem(app.config, "KB_DOCUMENT_MAX_BYTES", 2048)
    with pytest.raises(DocumentError, match="taille maximale de 2 Ko"):
        upload(b"# Titre\n\n" + b"x" * 2048)
    monkeypatch.setitem(app.config, "KB_DOCUMENT_MAX_BYTES", 1048576)
    with pytest.raises(DocumentError, match="protégé"):
        upload(make_pdf([["Texte"]], password="secret"), "reglement.pdf")
    assert count_rows(CallDocument) == count_rows(DocumentVersion) == count_rows(DocumentPassage) == 0


def test_a_new_version_replaces_the_passages_offered_and_an_expired_document_offers_none():
    first = upload()
    assert first.document.call_code == "AAPG-2026" and len(first.passages) == 3
    found = search_passages(QUESTION)
    assert found and found[0].heading_path[-1] == "3.1 Temps consacré au projet"
    assert found[0].document_slug == first.document.slug and found[0].version == 1
    assert search_passages(QUESTION, call="JCJC-2026") == []  # a document of another call is not offered
    with pytest.raises(DocumentError, match="identique"):
        upload()
    second = upload(RULES_MD.replace("30 %", "35 %").encode())
    assert second.document is first.document and second.number == 2
    found = search_passages(QUESTION)
    assert "35 %" in found[0].text and found[0].version == 2 and all("30 %" not in f.text for f in found)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentPassage)) == 6  # v1 kept for history
    services.update_validity(second.document, None, today() - timedelta(days=1))
    assert search_passages(QUESTION) == []


# -- pages and access --------------------------------------------------------------------------------


def test_referents_upload_and_draft_articles_agents_may_not(client, make_user, login):
    agent, referent = make_user("agent"), make_user("referent")
    login(agent)
    assert client.get("/gestion/documents").status_code == 403
    client.post("/deconnexion")
    login(referent)
    page = client.post("/gestion/documents", data={
        "title": "Guide", "call_code": "AAPG-2026", "valid_until": "",
        "file": (io.BytesIO(make_pdf([["x"]], password="s")), "guide.pdf")}, content_type="multipart/form-data")
    assert page.status_code == 422 and "protégé par un mot de passe" in page.get_data(as_text=True)
    response = client.post("/gestion/documents", data={
        "title": "Guide", "call_code": "AAPG-2026", "valid_from": "2026-01-01", "valid_until": "",
        "file": (io.BytesIO(PDF), "guide.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    guide = db.session.scalar(sa.select(CallDocument).where(CallDocument.title == "Guide"))
    assert guide.valid_from == date(2026, 1, 1) and guide.current_version.passages[1].page == 2
    version = upload()
    passage = version.passages[1]
    response = client.post(f"/gestion/documents/passages/{passage.id}/brouillon")
    assert response.status_code == 302
    article = db.session.scalar(sa.select(Article).where(Article.question == "3.1 Temps consacré au projet"))
    assert article.status == "draft" and article.calls == ["AAPG-2026"] and "30 %" in article.answer
    assert article.meta["source"] == {"kind": "passage", "passage_id": passage.id, "document_id": version.document_id,
                                      "document": version.document.slug, "title": "Règlement AAPG 2026",
                                      "version": 1, "page": None, "anchor": "passage-2"}
    assert "« Règlement AAPG 2026 », version 1" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert any(f.document_slug == version.document.slug for f in search_passages(QUESTION))
    ended = (today() - timedelta(days=1)).isoformat()
    response = client.post(f"/gestion/documents/{version.document_id}/validite",
                           data={"validite-valid_from": "", "validite-valid_until": ended})
    assert response.status_code == 302 and version.document.valid_until.isoformat() == ended
    assert all(f.document_slug != version.document.slug for f in search_passages(QUESTION))  # expired: not offered
    client.post("/deconnexion")
    login(agent)
    assert client.post(f"/gestion/documents/passages/{passage.id}/brouillon").status_code == 403
    assert client.post(f"/gestion/documents/{version.document_id}/validite", data={}).status_code == 403
    assert client.get(f"/gestion/documents/{version.document_id}").status_code == 403


def test_the_public_page_shows_the_passages_and_the_file(client):
    version = upload(b"# R\xc3\xa8gles\n\nTexte <script>alert(1)</script> du r\xc3\xa8glement.")
    page = client.get(f"/aide/documents/{version.document.slug}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="passage-1"' in text and "<script>alert" not in text
    download = client.get(f"/aide/documents/{version.document.slug}/fichier")
    assert download.data == version.content and "attachment" in download.headers["Content-Disposition"]
    assert client.get("/aide/documents/inconnu").status_code == 404
