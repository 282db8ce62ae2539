"""Semantic channel and fusion against BM25, TF-IDF and today's matcher, and the auto-answer precision.

Run from the repository root (the vectors are computed once and kept in the cache file):

    OMP_NUM_THREADS=1 .venv/bin/python bench/kb_semantic.py --cache instance/kb_vectors.npz [--splits 20] [--json]

On PIAF and on the demo FAQ (all 80 articles, validity dates ignored): top-1, top-5, MRR@10 of every method in
one run; then, at the auto-answer threshold, precision and share answered of the lexical matcher and of the
fusion, each calibrated on a random half of the questions and measured on the other half, and — without any
labelled question — the fusion calibrated on the articles' own phrasings held out (demo FAQ only: PIAF's
paragraphs have no phrasings).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from kb_matching import BM25Baseline, TfidfBaseline  # noqa: E402

from knowledge_base.evaluation import (  # noqa: E402
    QueryVectors,
    evaluate,
    load_entries,
    load_queries,
    load_vector_cache,
    save_vector_cache,
)
from knowledge_base.fusion import QUERY_CHARS, FusedIndex, calibrate_on_phrasings, passage_texts  # noqa: E402
from knowledge_base.matcher import MatchIndex  # noqa: E402
from knowledge_base.semantic import embed_missing, load_encoder, text_hash  # noqa: E402

SETS = {
    "PIAF": (ROOT.parent / "shared" / "data" / "piaf_v1" / "kb.jsonl",
             ROOT.parent / "shared" / "data" / "piaf_v1" / "queries.jsonl"),
    "demo FAQ": (ROOT / "knowledge_base" / "data" / "demo_kb.jsonl",
                 ROOT / "knowledge_base" / "data" / "demo_queries.jsonl"),
}


def answered(pairs, threshold):
    """Return (precision, share answered) of the (confidence, right) pairs at ``threshold``."""
    kept = [ok for confidence, ok in pairs if confidence >= threshold]
    return (sum(kept) / len(kept) if kept else float("nan")), len(kept) / len(pairs)


def top_pairs(matcher, queries):
    """Return (confidence, right) of each question's top result (none: confidence 0, wrong)."""
    pairs = []
    for q in queries:
        results = matcher.search(q.query, k=1)
        pairs.append((results[0].confidence, results[0].id in q.accepted) if results else (0.0, False))
    return pairs


def mean(values):
    values = [v for v in values if v == v]
    return round(float(np.mean(values)), 3) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", default=str(ROOT / "instance" / "kb_vectors.npz"), help="vectors by text hash")
    parser.add_argument("--threshold", type=float, default=0.8, help="KB_AUTO_ANSWER_CONFIDENCE")
    parser.add_argument("--precision", type=float, default=0.96, help="KB_AUTO_ANSWER_PRECISION")
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    encoder = load_encoder()
    if encoder is None:
        sys.exit("the semantic encoder cannot be loaded")
    known = load_vector_cache(args.cache)
    report: dict = {}
    for name in args.sets:
        kb_path, queries_path = SETS[name]
        entries = load_entries(kb_path)
        queries = load_queries(queries_path, known_ids=[e.id for e in entries])
        known.update(embed_missing(encoder, passage_texts(entries), known))
        texts = {q.query: q.query.strip()[:QUERY_CHARS] for q in queries}
        known.update(embed_missing(encoder, texts.values(), known, kind="query"))
        save_vector_cache(args.cache, known)
        vectors = {q: known[text_hash(encoder.name, t, "query")] for q, t in texts.items()}
        lexical = MatchIndex.build(entries)
        fused = FusedIndex.build(entries, encoder, known, lexical=lexical)
        methods = {
            "BM25 (rank-bm25)": BM25Baseline(entries),
            "TF-IDF words (scikit-learn)": TfidfBaseline(entries, strip_accents="unicode", sublinear_tf=True),
            "today's matcher (lexical channel)": lexical,
            "semantic channel alone (e5-small)": QueryVectors(fused, vectors, "semantic"),
            "fusion (lexical + 3.0 x cosine)": QueryVectors(fused, vectors),
        }
        ranking = {m: evaluate(matcher, queries, n_entries=len(entries)).to_dict() for m, matcher in methods.items()}
        rng = random.Random(2026)
        held = {"lexical": [], "fusion": []}
        for _ in range(args.splits):
            shuffled = queries[:]
            rng.shuffle(shuffled)
            fit, test = shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2:]
            lexical.calibrate([(q.query, q.accepted) for q in fit])
            held["lexical"].append(answered(top_pairs(lexical, test), args.threshold))
            fused.calibrate([(q.query, q.accepted) for q in fit], known=known, threshold=args.threshold,
                            precision=args.precision)
            held["fusion"].append(answered(top_pairs(QueryVectors(fused, vectors), test), args.threshold))
        lexical.calibration = fused.calibration = None
        calibration = {
            f"{channel}, calibrated on half the questions": {
                "precision": mean([p for p, _ in values]), "answered": mean([c for _, c in values])}
            for channel, values in held.items()
        }
        calibration["lexical, default calibration (no labels)"] = dict(
            zip(("precision", "answered"), map(lambda v: round(v, 3), answered(top_pairs(lexical, queries),
                                                                              args.threshold)), strict=True))
        if any(e.phrasings for e in entries):
            fused.calibration, computed = calibrate_on_phrasings(entries, encoder, known)
            known.update(computed)
            save_vector_cache(args.cache, known)
            precision, share = answered(top_pairs(QueryVectors(fused, vectors), queries), args.threshold)
            calibration["fusion, calibrated on held-out phrasings (no labels)"] = {
                "precision": round(precision, 3), "answered": round(share, 3),
                "phrasings": fused.calibration.n_samples}
        report[name] = {"entries": len(entries), "queries": len(queries), "ranking": ranking,
                        "auto_answer": calibration}
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return
    for name, part in report.items():
        print(f"\n{name}: {part['entries']} entries, {part['queries']} questions")
        print("| method | top-1 | top-5 | MRR@10 | p50 ms | p99 ms |\n|---|---|---|---|---|---|")
        for method, r in part["ranking"].items():
            print(f"| {method} | {r['top1']:.3f} | {r['top5']:.3f} | {r['mrr']:.3f} | {r['p50_ms']:.2f} | "
                  f"{r['p99_ms']:.2f} |")
        print(f"\nat confidence >= {args.threshold}:\n| calibration | precision | answered |\n|---|---|---|")
        for label, r in part["auto_answer"].items():
            print(f"| {label} | {r['precision']:.3f} | {100 * r['answered']:.1f} % |")


if __name__ == "__main__":
    main()
