"""Tests of the knowledge-base evaluation: JSONL readers, metrics, threshold and the CLI command."""

from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
from click.testing import CliRunner

from knowledge_base.cli import kb_cli
from knowledge_base.evaluation import (
    EvaluationInputError,
    LabelledQuery,
    evaluate,
    evaluate_files,
    load_entries,
    load_queries,
    threshold_for_precision,
)
from knowledge_base.matcher import Match


class FixedMatcher:
    """A matcher returning a fixed ranking per query (ignores k, like a sloppy implementation)."""

    def __init__(self, rankings: dict[str, list[str]]) -> None:
        """Keep the rankings."""
        self.rankings = rankings

    def __len__(self) -> int:
        """Return a fake number of entries."""
        return 42

    def search(self, query: str, k: int = 10) -> list[Match]:
        """Return the fixed ranking of ``query``."""
        return [Match(i, 1.0 / (n + 1), 0.5, "") for n, i in enumerate(self.rankings[query])]


def test_metrics_on_hand_made_rankings() -> None:
    """top-1, top-5 and MRR@10 match values computed by hand."""
    others = [f"x{n}" for n in range(12)]
    matcher = FixedMatcher(
        {
            "q1": ["a", "b", "c"],  # expected at rank 1
            "q2": ["a", "b", "c"],  # expected at rank 2
            "q3": [*others[:5], "d", "c"],  # also_ok "d" at rank 6: not top-5, RR 1/6
            "q4": others[:10],  # absent
            "q5": [*others[:10], "e"],  # rank 11: beyond MRR@10, counts 0
        }
    )
    queries = [
        LabelledQuery("q1", "a"),
        LabelledQuery("q2", "b"),
        LabelledQuery("q3", "c", ("d",)),
        LabelledQuery("q4", "z"),
        LabelledQuery("q5", "e"),
    ]
    result = evaluate(matcher, queries)
    assert result.top1 == pytest.approx(1 / 5)
    assert result.top5 == pytest.approx(2 / 5)
    assert result.mrr == pytest.approx((1 + 1 / 2 + 1 / 6) / 5)
    assert result.n_queries == 5
    assert result.n_entries == 42
    assert 0 <= result.p50_ms <= result.p99_ms
    assert set(result.to_dict()) == {"top1", "top5", "mrr", "p50_ms", "p99_ms", "n_queries", "n_entries"}


def test_evaluate_needs_queries() -> None:
    """An empty query list is an error, not a division by zero."""
    with pytest.raises(ValueError):
        evaluate(FixedMatcher({}), [])


OUTCOMES = [(0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False), (0.4, False)]


@pytest.mark.parametrize(
    ("precision", "threshold"),
    [(1.0, 0.8), (0.75, 0.6), (0.7, 0.6), (0.6, 0.5), (0.5, 0.4), (0.3, 0.4)],
)
def test_threshold_for_precision(precision: float, threshold: float) -> None:
    """The lowest threshold reaching the precision, computed by hand on six outcomes."""
    assert threshold_for_precision(precision, OUTCOMES) == threshold


def test_threshold_ties_and_unreachable() -> None:
    """Equal confidences are answered together; an unreachable precision gives None."""
    assert threshold_for_precision(1.0, [(0.8, True), (0.8, False), (0.9, True)]) == 0.9
    assert threshold_for_precision(0.9, [(0.5, False)]) is None
    assert threshold_for_precision(0.9, []) is None
    with pytest.raises(ValueError):
        threshold_for_precision(0.0, OUTCOMES)


def test_threshold_with_a_matcher() -> None:
    """With a matcher, the labelled queries' top results are searched."""
    matcher = FixedMatcher({"q1": ["a"], "q2": ["b"]})
    queries = [LabelledQuery("q1", "a"), LabelledQuery("q2", "x")]
    assert threshold_for_precision(0.5, queries, matcher=matcher) == 0.5
    assert threshold_for_precision(1.0, queries, matcher=matcher) is None


def _write(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` to ``path`` and return it."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


KB_LINES = [
    json.dumps(
        {
            "id": "prolongation",
            "question": "Comment demander une prolongation du projet ?",
            "answer": "Par avenant, deux mois avant la fin.",
            "meta": {},
            "phrasings": ["Peut-on prolonger un projet ?"],
            "topic": "Conventionnement",
            "calls": ["AAPG 2026"],
        },
        ensure_ascii=False,
    ),
    json.dumps({"id": "frais", "question": "Les frais de gestion sont-ils éligibles ?", "answer": "Oui, 8 %."}),
    "",
    json.dumps({"id": "para", "question": "", "answer": "Le camembert est un fromage normand.", "meta": {"a": 1}}),
]
QUERY_LINES = [
    json.dumps({"query": "prolonger mon projet", "expected_id": "prolongation", "also_ok": []}),
    json.dumps({"query": "frais de gestion", "expected_id": "frais"}),
    json.dumps({"query": "fromage de normandie", "expected_id": "para", "also_ok": ["frais"]}),
]


def test_load_entries_and_queries(tmp_path: Path) -> None:
    """Both formats load, optional fields included, blank lines skipped."""
    entries = load_entries(_write(tmp_path / "kb.jsonl", KB_LINES))
    assert [e.id for e in entries] == ["prolongation", "frais", "para"]
    assert entries[0].phrasings == ("Peut-on prolonger un projet ?",)
    assert entries[0].topic == "Conventionnement"
    assert entries[0].meta["calls"] == ["AAPG 2026"]
    queries = load_queries(_write(tmp_path / "q.jsonl", QUERY_LINES), known_ids=["prolongation", "frais", "para"])
    assert queries[2] == LabelledQuery("fromage de normandie", "para", ("frais",))
    result = evaluate_files(tmp_path / "kb.jsonl", tmp_path / "q.jsonl")
    assert result.top1 == 1.0 and result.n_entries == 3 and result.n_queries == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"question": "q", "answer": "a"}), '"id" missing'),
        (json.dumps({"id": 3, "answer": "a"}), '"id" must be a string'),
        (json.dumps({"id": "prolongation", "answer": "a"}), "duplicate id"),
        (json.dumps({"id": "n", "answer": 5}), '"answer" must be a string'),
        (json.dumps({"id": "n", "answer": "a", "phrasings": "p"}), '"phrasings" must be a list of strings'),
        (json.dumps({"id": "n", "answer": "a", "meta": []}), '"meta" must be an object'),
        (json.dumps({"id": "n", "question": "", "answer": " "}), "no question, phrasing or answer"),
    ],
)
def test_malformed_kb_line(tmp_path: Path, line: str, reason: str) -> None:
    """A malformed knowledge-base line is reported with file:line and the reason."""
    path = _write(tmp_path / "kb.jsonl", [KB_LINES[0], line])
    with pytest.raises(EvaluationInputError) as info:
        load_entries(path)
    assert f"{path}:2:" in str(info.value)
    assert reason in str(info.value)
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (json.dumps({"expected_id": "frais"}), '"query" missing'),
        (json.dumps({"query": "  ", "expected_id": "frais"}), '"query" is empty'),
        (json.dumps({"query": "q"}), '"expected_id" missing'),
        (json.dumps({"query": "q", "expected_id": "nope"}), "not in the knowledge base"),
        (json.dumps({"query": "q", "expected_id": "frais", "also_ok": [1]}), '"also_ok" must be a list of strings'),
    ],
)
def test_malformed_query_line(tmp_path: Path, line: str, reason: str) -> None:
    """A malformed query line is reported with file:line and the reason."""
    path = _write(tmp_path / "q.jsonl", [QUERY_LINES[0], line])
    with pytest.raises(EvaluationInputError, match=reason) as info:
        load_queries(path, known_ids=["prolongation", "frais"])
    assert f"{path}:2:" in str(info.value)


def test_missing_empty_and_binary_files(tmp_path: Path) -> None:
    """Unreadable, empty and non-UTF-8 files are input errors too."""
    with pytest.raises(EvaluationInputError, match="no_such"):
        load_entries(tmp_path / "no_such.jsonl")
    with pytest.raises(EvaluationInputError, match="no entries"):
        load_entries(_write(tmp_path / "empty.jsonl", [""]))
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EvaluationInputError, match="UTF-8"):
        load_queries(tmp_path / "bin.jsonl")


@pytest.fixture
def runner() -> flask.testing.FlaskCliRunner:
    """Return a CLI runner of a bare Flask app (no database) with the kb group registered."""
    app = flask.Flask(__name__)
    app.cli.add_command(kb_cli)
    return app.test_cli_runner()


def test_cli_evaluate_text(runner: flask.testing.FlaskCliRunner, tmp_path: Path) -> None:
    """The default output is human-readable text with every metric."""
    kb = _write(tmp_path / "kb.jsonl", KB_LINES)
    queries = _write(tmp_path / "q.jsonl", QUERY_LINES)
    result = runner.invoke(args=["kb", "evaluate", str(kb), str(queries), "--lexical-only"])
    assert result.exit_code == 0, result.output
    for label in ("top-1", "top-5", "MRR@10", "p50", "p99"):
        assert label in result.output


def test_cli_evaluate_json(runner: flask.testing.FlaskCliRunner, tmp_path: Path) -> None:
    """--json prints exactly one JSON object with the documented keys (the channels: test_kb_semantic.py)."""
    kb = _write(tmp_path / "kb.jsonl", KB_LINES)
    queries = _write(tmp_path / "q.jsonl", QUERY_LINES)
    result = runner.invoke(args=["kb", "evaluate", str(kb), str(queries), "--json", "--lexical-only"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"top1", "top5", "mrr", "p50_ms", "p99_ms", "n_queries", "n_entries"}
    assert data["top1"] == 1.0 and data["mrr"] == 1.0
    assert data["n_queries"] == 3 and data["n_entries"] == 3


@pytest.mark.parametrize(
    "bad",
    ["missing-file", "bad-json", "unknown-id"],
)
def test_cli_bad_input_exit_2(runner: flask.testing.FlaskCliRunner, tmp_path: Path, bad: str) -> None:
    """Bad input gives a message on stderr and exit code 2, never a traceback."""
    kb = _write(tmp_path / "kb.jsonl", KB_LINES)
    queries = _write(tmp_path / "q.jsonl", QUERY_LINES)
    if bad == "missing-file":
        kb = tmp_path / "absent.jsonl"
    elif bad == "bad-json":
        _write(kb, [KB_LINES[0], "{oops"])
    else:
        _write(queries, [json.dumps({"query": "q", "expected_id": "ghost"})])
    result = runner.invoke(args=["kb", "evaluate", str(kb), str(queries), "--json"])
    assert result.exit_code == 2
    assert "Erreur" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_cli_usage_error_exit_2() -> None:
    """A missing argument is a usage error (exit code 2), also when invoking the group directly."""
    result = CliRunner().invoke(kb_cli, ["evaluate", "only-one.jsonl"])
    assert result.exit_code == 2
