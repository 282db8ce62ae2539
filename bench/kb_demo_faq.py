"""Precision of auto-answers on the demo FAQ: calibrate on half the held-out questions, measure on the other half.

Run from the repository root:

    .venv/bin/python bench/kb_demo_faq.py [--threshold 0.8] [--splits 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge_base.evaluation import evaluate, load_entries, load_queries, outcomes, threshold_for_precision  # noqa: E402
from knowledge_base.matcher import MatchIndex  # noqa: E402

DATA = ROOT / "knowledge_base" / "data"


def offered(entries, day: date):
    """Keep the entries the service would index on ``day`` (validity dates applied)."""
    kept = []
    for entry in entries:
        start, end = entry.meta.get("valid_from"), entry.meta.get("valid_until")
        if (start is None or date.fromisoformat(start) <= day) and (end is None or day <= date.fromisoformat(end)):
            kept.append(entry)
    return kept


def answered_precision(pairs, threshold):
    """Return (precision, coverage, answered) of the results whose confidence is >= threshold."""
    answered = [ok for confidence, ok in pairs if confidence >= threshold]
    precision = sum(answered) / len(answered) if answered else float("nan")
    return precision, len(answered) / len(pairs), len(answered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, default=0.8, help="KB_AUTO_ANSWER_CONFIDENCE")
    parser.add_argument("--target", type=float, default=0.95, help="precision asked of threshold_for_precision")
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--day", type=date.fromisoformat, default=date.today())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    raw = [json.loads(line) for line in (DATA / "demo_kb.jsonl").read_text(encoding="utf-8").splitlines()]
    entries = load_entries(DATA / "demo_kb.jsonl")
    validity = {r["id"]: (r.get("valid_from"), r.get("valid_until")) for r in raw}
    for entry in entries:
        entry.meta["valid_from"], entry.meta["valid_until"] = validity[entry.id]
    entries = offered(entries, args.day)
    ids = {e.id for e in entries}
    queries = [q for q in load_queries(DATA / "demo_queries.jsonl") if q.accepted & ids]
    ranking = evaluate(MatchIndex.build(entries), queries, n_entries=len(entries))

    rng = random.Random(2026)
    at_threshold, at_target = [], []
    for _ in range(args.splits):
        shuffled = queries[:]
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        fit, test = shuffled[:half], shuffled[half:]
        index = MatchIndex.build(entries)
        index.calibrate([(q.query, q.accepted) for q in fit])
        pairs = outcomes(index, test)
        at_threshold.append(answered_precision(pairs, args.threshold))
        chosen = threshold_for_precision(args.target, outcomes(index, fit))
        if chosen is not None:
            at_target.append((chosen, *answered_precision(pairs, chosen)))

    full = MatchIndex.build(entries)
    full.calibrate([(q.query, q.accepted) for q in queries])
    in_sample = answered_precision(outcomes(full, queries), args.threshold)

    def mean(values):
        values = [v for v in values if v == v]
        return float(np.mean(values)) if values else float("nan")

    result = {
        "n_entries": len(entries), "n_queries": len(queries), **ranking.to_dict(),
        "threshold": args.threshold,
        "heldout_precision": round(mean([p for p, _c, _n in at_threshold]), 3),
        "heldout_coverage": round(mean([c for _p, c, _n in at_threshold]), 3),
        "in_sample_precision": round(in_sample[0], 3), "in_sample_coverage": round(in_sample[1], 3),
        "target": args.target,
        "target_threshold": round(mean([t for t, *_ in at_target]), 3),
        "target_heldout_precision": round(mean([p for _t, p, _c, _n in at_target]), 3),
        "target_heldout_coverage": round(mean([c for _t, _p, c, _n in at_target]), 3),
        "splits": args.splits,
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    for key, value in result.items():
        print(f"{key:26} {value}")


if __name__ == "__main__":
    main()
