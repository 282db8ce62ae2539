"""The packages import each other only as the design allows (DESIGN.md, "Architecture")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "tickets", "expert", "knowledge_base", "notifications")
ALLOWED = {
    "crm": set(),
    "knowledge_base": {"crm"},
    "expert": {"knowledge_base", "crm"},
    "tickets": {"expert", "crm"},
    "notifications": {"crm"},
}
#: The application factory registers every package's blueprints and CLI groups.
REGISTRATION = {ROOT / "crm" / "__init__.py"}


def imported_packages(path: Path) -> set[str]:
    """Top-level project packages a module imports (anywhere in the file, functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_the_design_allows(package):
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path in REGISTRATION:
            continue
        extra = imported_packages(path) - ALLOWED[package] - {package}
        if extra:
            offences.append(f"{path.relative_to(ROOT)} imports {sorted(extra)}")
    assert offences == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tickets.models import Ticket\n    import expert.rules\n")
    assert imported_packages(module) == {"tickets", "expert"}
