"""Passages of the demo call documents: lexical vs fused top-1 on paraphrased questions, embed and build times.

    .venv/bin/python bench/kb_passages_semantic.py

The passages are read as an upload splits them (``read_document``), with the entries the index builds
(``passage_entry``'s question: title › headings). The fused passage index takes the calibration the articles'
index gets from the demo's labelled questions (as ``IndexService`` does), KB_PASSAGE_CONFIDENCE (0.6) the threshold.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge_base.demo import DATA_DIR, DEMO_KB, DEMO_QUERIES  # noqa: E402
from knowledge_base.documents.demo import DOCUMENTS  # noqa: E402
from knowledge_base.documents.extraction import read_document  # noqa: E402
from knowledge_base.documents.search import passage_question  # noqa: E402
from knowledge_base.evaluation import load_entries, load_queries  # noqa: E402
from knowledge_base.fusion import QUERY_CHARS, FusedIndex, passage_texts  # noqa: E402
from knowledge_base.matcher import Entry, MatchIndex  # noqa: E402
from knowledge_base.semantic import E5Encoder, embed_missing  # noqa: E402

# (question in other words than the passage's, expected passage: file, heading)
QUESTIONS = [
    ("Quelle part de mon activité dois-je réserver à ce projet en tant que porteur ?", "3.1 Temps consacré au projet"),
    ("Un laboratoire peut-il se joindre sans recevoir d'argent ?", "3.2 Partenaires non financés"),
    ("Mes articles doivent-ils être librement accessibles ?", "5. Science ouverte"),
    ("Le site ne marche plus juste avant l'heure limite, que faire ?", "Difficulté technique le jour de la clôture"),
    ("Quelles pièces fournir pour la première phase ?", "Documents à joindre"),
    ("Peut-on changer de jury après avoir soumis ?", "2.1 Choisir son comité au dépôt"),
    ("Mon sujet mêle plusieurs domaines : quel jury ?", "2.2 Projets interdisciplinaires"),
    ("Faut-il parler de parité dans le dossier ?", "4. Égalité entre les femmes et les hommes"),
    ("À partir de quel jour peut-on déposer ?", "Les étapes du calendrier"),
    ("Quels types de financement propose cet appel ?", "1. Objet de l'appel"),
]

# Worded as the documents are (should be quoted), and unrelated to any passage (should not reach 0.6).
DIRECT = [
    ("Quel temps le coordinateur doit-il consacrer au projet ?", "3.1 Temps consacré au projet"),
    ("Que faire en cas de panne de la plateforme le jour de la clôture ?",
     "Difficulté technique le jour de la clôture"),
    ("Un partenaire non financé doit-il fournir une lettre d'engagement ?", "3.2 Partenaires non financés"),
    ("Comment choisir le comité d'évaluation scientifique ?", "2.1 Choisir son comité au dépôt"),
    ("Quand a lieu le webinaire de présentation de l'appel ?", "Les étapes du calendrier"),
]
UNRELATED = ["J'ai oublié mon mot de passe",
             "Quel temps fait-il à Brest ?", "Les frais de gestion sont-ils éligibles ?"]


def passages() -> list[Entry]:
    entries = []
    for title, name in DOCUMENTS:
        _kind, found = read_document(name, (DATA_DIR / "documents" / name).read_bytes())
        for n, p in enumerate(found):
            entries.append(Entry(f"passage:{name}:{n}", passage_question(title, p.heading_path), p.text,
                                 meta={"heading": p.heading_path[-1] if p.heading_path else ""}))
    return entries


def main() -> None:
    encoder = E5Encoder()
    entries = passages()
    texts = passage_texts(entries)
    started = time.perf_counter()
    known = embed_missing(encoder, texts, {})
    embed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lexical = MatchIndex.build(entries)
    lexical_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fused = FusedIndex.build(entries, encoder, known, lexical=lexical)
    fused_seconds = time.perf_counter() - started
    # The articles' calibration, as the index service fits it on the demo's labelled questions.
    articles = load_entries(DEMO_KB)
    article_known = embed_missing(encoder, passage_texts(articles), {})
    article_index = FusedIndex.build(articles, encoder, article_known)
    ids = {e.id for e in articles}
    labelled = [(q.query, {q.expected_id, *q.also_ok} & ids) for q in load_queries(DEMO_QUERIES)]
    article_index.calibrate([(q, a) for q, a in labelled if a], threshold=0.8, precision=0.96)
    fused.calibration = article_index.calibration
    heading = {e.id: e.meta["heading"] for e in entries}
    lexical_right = fused_right = semantic_right = quoted = lexical_quoted = 0
    query_ms = []
    for question, expected in QUESTIONS:
        lex = lexical.search(question, k=1)
        t = time.perf_counter()
        vector = encoder.queries([question.strip()[:QUERY_CHARS]])[0]
        query_ms.append(1000 * (time.perf_counter() - t))
        fus = fused.search(question, k=1, query_vector=vector)
        lex_ok = bool(lex) and heading[lex[0].id] == expected
        fus_ok = bool(fus) and heading[fus[0].id] == expected
        cosines = fused.vectors.scores(vector)
        semantic_right += heading[entries[int(cosines.argmax())].id] == expected
        lexical_right += lex_ok
        lexical_quoted += lex_ok and lex[0].confidence >= 0.6
        fused_right += fus_ok
        quoted += fus_ok and fus[0].confidence >= 0.6
        print(f"{'+' if lex_ok else '-'}{'+' if fus_ok else '-'} {lex[0].confidence if lex else 0:.2f} "
              f"{fus[0].confidence:.2f} {question}"
              f"  → {heading[fus[0].id]}")
    for question, expected in [*DIRECT, *((q, None) for q in UNRELATED)]:
        lex, fus = lexical.search(question, k=1), fused.search(question, k=1)
        print(f"{'direct' if expected else 'unrelated'}: lexical {heading[lex[0].id] == expected if lex else '-'} "
              f"{lex[0].confidence if lex else 0:.2f}, fused {heading[fus[0].id] == expected} {fus[0].confidence:.2f}"
              f"  {question}")
    n = len(QUESTIONS)
    print(f"passages: {len(entries)}, texts embedded: {len(texts)} in {embed_seconds:.2f} s "
          f"({1000 * embed_seconds / len(entries):.0f} ms per passage)")
    print(f"top-1: lexical {lexical_right}/{n}, semantic alone {semantic_right}/{n}, fused {fused_right}/{n}; "
          f"right at confidence ≥ 0.6: "
          f"lexical {lexical_quoted}/{n}, fused {quoted}/{n}")
    print(f"build: lexical {1000 * lexical_seconds:.1f} ms, fused (stored vectors) {1000 * fused_seconds:.1f} ms; "
          f"query embedding p50 {statistics.median(query_ms):.0f} ms")


if __name__ == "__main__":
    main()
