"""The fault cases of the importers and of the triage patterns, to run through the real commands.

    .venv/bin/python bench/fault_cases.py files /tmp/fautes     # writes /tmp/fautes/import/ and /tmp/fautes/kb.jsonl
    .venv/bin/guichet import run /tmp/fautes/import              # each bad line refused alone, the rest applied
    .venv/bin/guichet kb import /tmp/fautes/kb.jsonl             # exit code 2, one file:line per bad line
    .venv/bin/python bench/fault_cases.py regex                  # (a+)+$ with Python's re and with RE2

The tests tests/crm/imports/test_import_faults.py, tests/knowledge_base/test_kb_import_faults.py and
tests/expert/test_expert_regex.py assert the same cases.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

import re2

ORGANISATIONS = [
    "code;kind;name;city",
    "FAUTE-A;other;Alpha (valide);Lyon",
    "FAUTE-B;other;" + "x" * (csv.field_size_limit() + 1) + ";Lyon",   # line 3: over the csv module's limit
    'FAUTE-C;other;"Gamma sans guillemet fermant;Lyon',                # line 4: quote never closed
    "FAUTE-D;other;Delta (valide);Lyon",                               # read on its own, not swallowed
    'FAUTE-E;other;"Epsilon" et la suite;Lyon',                         # line 6: text after a closing quote
    "FAUTE-F;other;Phi\x00;Lyon",                                      # line 7: a NUL character
    'FAUTE-G;other;"Gamma\nsur deux lignes (valide)";Lyon',              # lines 8-9: a legitimate line break
]
PEOPLE = [
    {"code": "FAUTE-P1", "last_name": "Valide"},
    {"code": "FAUTE-P2", "last_name": ["liste"]},                     # line 2: a list where a text is expected
    '{"code": "FAUTE-P3", "last_name": ' + "[" * 50_000 + "]" * 50_000 + "}",  # line 3: nested 50,000 deep
    '{"code": "FAUTE-P4", "last_name": "X", "phone": ' + "9" * 5000 + "}",     # line 4: a 5,000-digit number
]
KB = [
    {"id": "faute-1", "question": "Valide ?", "answer": "Oui."},
    {"id": "faute-2", "question": "Nul\u0000 ?", "answer": "Non."},     # line 2: \u0000
    '{"id": "faute-3", "question": "Brut ?", "answer": "Non\x00."}',    # line 3: a raw NUL byte
    '{"id": "faute-4", "question": "Profond ?", "answer": "Non.", "meta": ' + "[" * 50_000 + "]" * 50_000 + "}",
    {"id": "faute-5", "question": "Long ?", "answer": "a" * 50_001},   # line 5: over the article form's 50,000
    {"id": "faute-6", "question": "Thème ?", "answer": "Non.", "topic": ["depot"]},  # line 6: a list for a text
]


def _line(item) -> str:
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


def write_files(directory: Path) -> None:
    (directory / "import").mkdir(parents=True, exist_ok=True)
    (directory / "import" / "organisations.csv").write_text("\n".join(ORGANISATIONS) + "\n", encoding="utf-8")
    (directory / "import" / "people.jsonl").write_text("\n".join(map(_line, PEOPLE)) + "\n", encoding="utf-8")
    (directory / "kb.jsonl").write_text("\n".join(map(_line, KB)) + "\n", encoding="utf-8")
    print(f"Écrit : {directory / 'import'} (organisations.csv, people.jsonl) et {directory / 'kb.jsonl'}")


def time_regex() -> None:
    options = re2.Options()
    options.log_errors = False
    python, engine = re.compile("(a+)+$"), re2.compile("(a+)+$", options)
    for n in (18, 20, 22, 24):
        started = time.perf_counter()
        python.search("a" * n + "!")
        print(f"re   (a+)+$ sur {n:>9} « a » + « ! » : {time.perf_counter() - started:8.3f} s")
    for n in (24, 100_000, 1_000_000):
        started = time.perf_counter()
        assert engine.search("a" * n + "!") is None
        print(f"RE2  (a+)+$ sur {n:>9} « a » + « ! » : {time.perf_counter() - started:8.4f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("files").add_argument("directory", type=Path)
    sub.add_parser("regex")
    args = parser.parse_args(argv)
    if args.command == "files":
        write_files(args.directory)
    else:
        time_regex()
    return 0


if __name__ == "__main__":
    sys.exit(main())
