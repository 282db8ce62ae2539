"""The stored rule set: read, replace as a whole (every change is a new version), YAML import and export."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
import yaml
from flask_babel import gettext as _

from crm.core import refcache
from crm.core.extensions import db, utcnow
from crm.core.models import User
from expert import rules as rules_engine
from expert.models import Rule, RuleSetVersion

log = logging.getLogger(__name__)

#: The likely cause of a YAML syntax error, by words of PyYAML's problem or context (the first that matches).
YAML_CAUSE_LABELS = {
    "'\\t'": "une tabulation : indentez avec des espaces",
    "quoted scalar": "un guillemet ouvert n'est pas fermé",
    "flow sequence": "un crochet [ ouvert n'est pas fermé",
    "flow mapping": "une accolade { ouverte n'est pas fermée",
    "mapping values are not allowed": "un deux-points en trop : mettez la valeur entre guillemets",
    "could not find expected ':'": "un deux-points manquant après une clé",
    "block end": "une indentation qui ne suit pas celle des lignes précédentes",
}
_UNCLOSED = ("quoted scalar", "flow sequence", "flow mapping")


def stored_rules() -> list[Rule]:
    """The rules of the current set, in evaluation order."""
    return list(db.session.scalars(sa.select(Rule).order_by(Rule.position, Rule.id)))


def rule_dicts() -> list[dict]:
    """The current rule set as plain mappings (the YAML form)."""
    return [r.to_dict() for r in stored_rules()]


def latest_version() -> RuleSetVersion | None:
    return db.session.scalar(sa.select(RuleSetVersion).order_by(RuleSetVersion.number.desc()).limit(1))


def versions(limit: int = 50) -> list[RuleSetVersion]:
    """The newest versions first."""
    return list(db.session.scalars(sa.select(RuleSetVersion).order_by(RuleSetVersion.number.desc()).limit(limit)))


def _load_compiled(session) -> tuple[int | None, list[rules_engine.Rule]]:
    version = session.scalar(sa.select(RuleSetVersion).order_by(RuleSetVersion.number.desc()).limit(1))
    if version is None:
        rows = session.scalars(sa.select(Rule).order_by(Rule.position, Rule.id))
        return None, rules_engine.parse_stored_rules([r.to_dict() for r in rows])
    return version.number, rules_engine.parse_stored_rules(version.rules or [])


RULES = "expert.rules"
refcache.register(RULES, _load_compiled, Rule, RuleSetVersion)


def compiled_rules() -> tuple[int | None, list[rules_engine.Rule]]:
    """The current version number and rule set, validated for evaluation, cached per process (crm.core.refcache).

    Every change goes through save_rule_set, which stores the whole set in a new version: the latest version's
    snapshot is the current set (the rule rows before any version). Callers must not change what they get.
    """
    return refcache.get(RULES)


def save_rule_set(items: Any, *, by: User | None, comment: str = "") -> RuleSetVersion | None:
    """Validate and store a whole rule set in order; a new version is recorded when anything changed."""
    parsed = rules_engine.parse_rules(items)
    existing = {row.code: row for row in stored_rules()}
    changed = [r.code for r in parsed] != list(existing)
    now = utcnow()
    for position, rule in enumerate(parsed, start=1):
        data = rule.to_dict()
        row = existing.pop(rule.code, None)
        if row is None:
            row = Rule(code=rule.code, position=position, version=1, updated_at=now)
            db.session.add(row)
            changed = True
        elif row.to_dict() != data:
            row.version += 1
            row.updated_at = now
            changed = True
        elif row.position != position:
            changed = True
        row.position = position
        row.name, row.enabled, row.stop = data["name"], data["enabled"], data["stop"]
        row.conditions, row.actions = data["conditions"], data["actions"]
    for row in existing.values():
        db.session.delete(row)
        changed = True
    if not changed:
        return latest_version()
    previous = latest_version()
    version = RuleSetVersion(number=(previous.number + 1) if previous else 1, rules=[r.to_dict() for r in parsed],
                             comment=comment[:300], author=by, created_at=now)
    db.session.add(version)
    db.session.flush()
    return version


def _replace(code: str, change, *, by: User | None, comment: str) -> RuleSetVersion | None:
    items = rule_dicts()
    index = next((i for i, item in enumerate(items) if item["code"] == code), None)
    if index is None:
        raise rules_engine.RuleError(f"règle {code} introuvable")
    change(items, index)
    return save_rule_set(items, by=by, comment=comment)


def save_rule(code: str | None, data: dict, *, by: User | None, position: int | None = None) -> RuleSetVersion | None:
    """Create (code None) or replace one rule, at ``position`` (1 is first; None: at the end, or where it was)."""
    if code is None:
        items = rule_dicts()
        items.insert(len(items) if position is None else max(0, position - 1), data)
        return save_rule_set(items, by=by, comment=f"Ajout de la règle {data.get('code') or ''}".strip())

    def replace(items, index):
        items.pop(index)
        items.insert(index if position is None else max(0, min(len(items), position - 1)), data)
    return _replace(code, replace, by=by, comment=f"Modification de la règle {code}")


def delete_rule(code: str, *, by: User | None) -> RuleSetVersion | None:
    return _replace(code, lambda items, index: items.pop(index), by=by, comment=f"Suppression de la règle {code}")


def move_rule(code: str, delta: int, *, by: User | None) -> RuleSetVersion | None:
    """Move a rule up (delta -1) or down (+1) in the evaluation order."""
    def move(items, index):
        target = max(0, min(len(items) - 1, index + delta))
        items.insert(target, items.pop(index))
    return _replace(code, move, by=by, comment=f"Déplacement de la règle {code}")


def set_rule_enabled(code: str, enabled: bool, *, by: User | None) -> RuleSetVersion | None:
    def toggle(items, index):
        items[index]["enabled"] = enabled
    verb = "Activation" if enabled else "Désactivation"
    return _replace(code, toggle, by=by, comment=f"{verb} de la règle {code}")


def restore_version(version: RuleSetVersion, *, by: User | None) -> RuleSetVersion | None:
    """Make an older version current again (as a new version)."""
    return save_rule_set(version.rules, by=by, comment=f"Retour à la version {version.number}")


def dump_yaml(items: list[dict]) -> str:
    """The rule set as a YAML document (French text kept readable)."""
    return yaml.safe_dump({"rules": items}, allow_unicode=True, sort_keys=False, width=110)


def yaml_error_message(error: yaml.YAMLError) -> str:
    """A YAML syntax error in plain French, with its line and column; PyYAML's own (English) text goes to the log."""
    log.info("YAML rejected: %s", error)
    problem = f"{getattr(error, 'problem', '') or ''} {getattr(error, 'context', '') or ''}"
    cause = next((_(text) for words, text in YAML_CAUSE_LABELS.items() if words in problem),
                 _("vérifiez l'indentation, les deux-points et les guillemets"))
    mark = getattr(error, "problem_mark", None)
    if any(words in problem for words in _UNCLOSED) and getattr(error, "context_mark", None) is not None:
        mark = error.context_mark  # where the quote or bracket left open begins, not the end of the text
    if mark is None:
        return _("YAML invalide : %(cause)s.", cause=cause)
    return _("YAML invalide à la ligne %(line)s, colonne %(column)s : %(cause)s.",
             line=mark.line + 1, column=mark.column + 1, cause=cause)


def load_yaml(text: str) -> list[dict]:
    """Parse a YAML rule set (a list, or a mapping with a `rules` list); errors are RuleError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise rules_engine.RuleError(yaml_error_message(error)) from None
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list):
        raise rules_engine.RuleError("le document doit contenir une liste « rules »")
    rules_engine.parse_rules(data)
    return data


def import_yaml(text: str, *, by: User | None, comment: str = "Import YAML") -> RuleSetVersion | None:
    """Replace the rule set with a YAML document."""
    return save_rule_set(load_yaml(text), by=by, comment=comment)
