"""The service tier set on the organisation's page is the reference: the nightly import fills it, never replaces it."""

from __future__ import annotations

import csv
import shutil

import factories_crm
import sqlalchemy as sa

from crm.core.extensions import db
from crm.imports.services import import_directory
from crm.organisations.models import Organisation

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures


def _rewrite(source, target, changes: dict[str, dict[str, str]]):
    """A copy of the export in which the organisations named in `changes` get the given columns."""
    shutil.copytree(source, target)
    path = target / "organisations.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        fields, rows = reader.fieldnames, [row | changes.get(row["code"], {}) for row in reader]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_an_edited_tier_survives_the_next_import_and_an_empty_one_is_filled(demo, demo_dir, tmp_path):
    tiered = db.session.scalar(sa.select(Organisation).where(Organisation.service_tier == "premium")
                               .order_by(Organisation.code))
    empty = db.session.scalar(sa.select(Organisation).where(Organisation.service_tier.is_(None))
                              .order_by(Organisation.code))
    assert tiered is not None and empty is not None
    tiered.service_tier = "standard"  # as the organisation's page does
    db.session.flush()
    # The file changes both rows (a new name forces the update) and still says "premium" for the first.
    changed = _rewrite(demo_dir, tmp_path / "export", {
        tiered.code: {"name": tiered.name + " (renommé)", "service_tier": "premium"},
        empty.code: {"name": empty.name + " (renommé)", "service_tier": "prioritaire"}})
    run = import_directory(changed, trigger="test")
    assert run.counts["organisations"]["updated"] == 2
    db.session.expire_all()
    assert (tiered.name.endswith("(renommé)"), tiered.service_tier) == (True, "standard")
    assert (empty.name.endswith("(renommé)"), empty.service_tier) == (True, "prioritaire")
