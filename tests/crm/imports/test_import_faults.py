"""Faulty lines through `guichet import run`: each is refused alone with its line number, the rest is applied."""

from __future__ import annotations

import csv
import json

import sqlalchemy as sa

from crm.core.extensions import db
from crm.imports.models import ImportRejection, ImportRun
from crm.organisations.models import Organisation, Person

ORG_HEADER = "code;kind;name;city\n"
PEOPLE = "code;last_name;email\nP1;Durand;p1@exemple.fr\nP2;Martin;p2@exemple.fr\n"


def _write(directory, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def _run(app, directory) -> tuple[str, dict[int, str]]:
    """Run the real command; return its output and the refused lines (line → reason) of the run it recorded."""
    result = app.test_cli_runner().invoke(args=["import", "run", str(directory)])
    assert result.exit_code == 0, result.output
    run_id = db.session.scalar(sa.select(sa.func.max(ImportRun.id)))
    rows = db.session.execute(sa.select(ImportRejection.file, ImportRejection.line, ImportRejection.reason)
                              .where(ImportRejection.run_id == run_id)).all()
    return result.output, {line: f"{file}: {reason}" for file, line, reason in rows}


def _names() -> dict[str, str]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(Organisation.code, Organisation.name)).all())


def test_a_field_over_the_csv_limit_refuses_its_line_and_the_other_files_apply(app, tmp_path, count_rows):
    big = "x" * (csv.field_size_limit() + 10)
    _write(tmp_path, "organisations.csv", ORG_HEADER + "A;other;Alpha;Lyon\n" + f"B;other;{big};Lyon\n"
           + "C;other;Gamma;Lyon\n")
    _write(tmp_path, "people.csv", PEOPLE)

    output, refused = _run(app, tmp_path)

    assert set(refused) == {3} and "131\u202f072 caractères" in refused[3]
    assert "organisations.csv, ligne 3" in output
    assert _names() == {"A": "Alpha", "C": "Gamma"}
    assert count_rows(Person) == 2  # the next file was applied too


def test_an_unclosed_quote_refuses_its_line_and_the_next_rows_are_read_on_their_own(app, tmp_path):
    _write(tmp_path, "organisations.csv", ORG_HEADER
           + "A;other;Alpha;Lyon\n"
           + 'B;other;"Beta;Lyon\n'          # never closed: used to swallow C and D into B's name
           + "C;other;Gamma;Lyon\n"
           + "D;other;Delta;Lyon\n")

    _output, refused = _run(app, tmp_path)

    assert set(refused) == {3} and "guillemet non refermé" in refused[3] and "ligne 3" in refused[3]
    assert _names() == {"A": "Alpha", "C": "Gamma", "D": "Delta"}


def test_a_quote_closed_lines_later_refuses_the_first_line_and_rereads_the_next(app, tmp_path):
    _write(tmp_path, "organisations.csv", ORG_HEADER
           + 'B;other;"Beta;Lyon\n'
           + "C;other;Gamma;Lyon\n"
           + 'D;Delta"\n'                   # its quote "closes" B's: B would be one 3-column record
           + 'E;other;"Epsilon\nsur deux lignes";Lyon\n'   # a legitimate quoted line break is kept
           + 'F;other;"Phi" et Psi;Lyon\n')                # text after a closing quote

    _output, refused = _run(app, tmp_path)

    assert set(refused) == {2, 4, 7}
    assert "guillemet non refermé" in refused[2] and "jusqu'à la ligne 4" in refused[2]
    assert "« kind » : valeur « Delta\" » inconnue" in refused[4]  # read on its own, refused for its own reason
    assert "guillemet mal placé" in refused[7]
    assert _names() == {"C": "Gamma", "E": "Epsilon\nsur deux lignes"}


def test_deep_json_and_a_huge_number_refuse_their_line_alone(app, tmp_path):
    deep = '{"code": "Z", "kind": "other", "name": ' + "[" * 50_000 + "]" * 50_000 + "}"
    huge = '{"code": "Y", "kind": "other", "name": "Y", "city": ' + "9" * 5000 + "}"
    good = json.dumps({"code": "A", "kind": "other", "name": "Alpha"})
    _write(tmp_path, "organisations.jsonl", "\n".join([deep, good, huge]) + "\n")
    _write(tmp_path, "people.csv", PEOPLE)

    _output, refused = _run(app, tmp_path)

    assert set(refused) == {1, 3}
    assert "plus de 64 niveaux" in refused[1] and "JSON illisible (un nombre dépasse 4\u202f300 chiffres)" in refused[3]
    assert _names() == {"A": "Alpha"}


def test_a_json_list_where_a_string_is_expected_keeps_the_existing_record(app, tmp_path):
    _write(tmp_path, "organisations.csv", ORG_HEADER + "A;other;Alpha;Lyon\n")
    _run(app, tmp_path)
    (tmp_path / "organisations.csv").unlink()
    _write(tmp_path, "organisations.jsonl", "\n".join([
        json.dumps({"code": "A", "kind": "other", "name": ["x"]}),
        json.dumps({"code": "B", "kind": "other", "name": {"fr": "Beta"}}),
        json.dumps({"code": "C", "kind": "other", "name": "Gamma", "city": "Lyon"}),
    ]) + "\n")

    _output, refused = _run(app, tmp_path)

    assert set(refused) == {1, 2}
    assert "« name » : une valeur simple est attendue" in refused[1] and "liste JSON" in refused[1]
    assert "objet JSON" in refused[2]
    assert _names() == {"A": "Alpha", "C": "Gamma"}  # never "['x']"


def test_a_nul_character_refuses_its_line(app, tmp_path):
    _write(tmp_path, "organisations.csv", ORG_HEADER + "A;other;Al\x00pha;Lyon\nC;other;Gamma;Lyon\n")
    _write(tmp_path, "people.jsonl", json.dumps({"code": "P1", "last_name": "Du\u0000rand"}) + "\n")

    _output, refused = _run(app, tmp_path)

    assert set(refused) == {1, 2} and "caractère nul" in refused[2] and "caractère nul" in refused[1]
    assert _names() == {"C": "Gamma"}
