"""The packages depend on each other only as DESIGN.md's table says: no import cycle, no back door by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "tickets", "expert", "knowledge_base", "notifications")

CRM_DOMAINS = ("crm.organisations", "crm.projects", "crm.portal", "crm.imports")  # lowest first
#: Each unit and the units it may import (besides itself); the assembly units may import anything.
ALLOWED: dict[str, set[str]] = {
    "crm.core": set(),
    "crm.translations": set(),
    "notifications": {"crm.core"},
    "knowledge_base": {"crm.core"},
    **{domain: {"crm.core", "notifications", *CRM_DOMAINS[:i]} for i, domain in enumerate(CRM_DOMAINS)},
    "expert": {"crm.core", "knowledge_base", *CRM_DOMAINS},
    "tickets": {"crm.core", "notifications", "knowledge_base", *CRM_DOMAINS, "expert"},
}
ASSEMBLY = {"crm", "crm.cli", "crm.demo"}  # create_app, the `guichet` command, the demo data set
UNITS = sorted(set(ALLOWED) | ASSEMBLY, key=len, reverse=True)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str | None:
    """The unit of the design table a module belongs to (its longest listed prefix)."""
    return next((u for u in UNITS if module == u or module.startswith(u + ".")), None)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """Project modules a module imports, anywhere in the file (functions included).

    ``from package import submodule`` counts as importing the submodule only, as Python resolves it.
    """
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {module: imports_of(path, module, known) for module, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_unit_of_the_table():
    assert [m for m in project_modules() if unit_of(m) is None] == []


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_unit_imports_only_what_the_design_allows(unit):
    offences = []
    for module, imported in sorted(import_graph().items()):
        if unit_of(module) != unit:
            continue
        for target in sorted(imported):
            target_unit = unit_of(target)
            if target_unit != unit and target_unit not in ALLOWED[unit]:
                offences.append(f"{module} imports {target}")
    assert offences == []


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


# -- no back door by name -----------------------------------------------------------------------------------


def _owners() -> tuple[dict[str, str], dict[str, str]]:
    """(table name -> unit, model class name -> unit) of every mapped model of the application."""
    from crm.core.extensions import db

    tables, classes = {}, {}
    for mapper in db.Model.registry.mappers:
        unit = unit_of(mapper.class_.__module__)
        classes[mapper.class_.__name__] = unit
        tables[mapper.local_table.name] = unit
    return tables, classes


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def names_used_as_strings(source: str) -> list[tuple[int, str, str]]:
    """(line, kind, name) of tables, models and signals a module names in a string literal.

    Looks at sa.table() names, ForeignKey("table.column"), relationship("Model") and Mapped["Model"],
    and blinker's by-name signal("..."), which is always a back door (signals are Namespace objects).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _called(node)
            first = node.args[0] if node.args else None
            text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            if text is None:
                continue
            if name == "table":  # sa.table(): a lightweight reference (sa.Table() defines a table)
                found.append((node.lineno, "table", text))
            elif name == "ForeignKey":
                found.append((node.lineno, "table", text.split(".")[0]))
            elif name == "relationship":
                found.append((node.lineno, "model", text))
            elif name == "signal" and isinstance(node.func, ast.Name):
                found.append((node.lineno, "signal", text))
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Mapped"
              and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            found.append((node.lineno, "model", node.slice.value))
    return found


def test_no_module_names_another_packages_table_model_or_signal(app):
    tables, classes = _owners()
    offences = []
    for module, path in sorted(project_modules().items()):
        unit = unit_of(module)
        if unit in ASSEMBLY:
            continue
        for line, kind, name in names_used_as_strings(path.read_text(encoding="utf-8")):
            owner = {"table": tables, "model": classes}.get(kind, {}).get(name, unit) or unit
            if kind == "signal" or (owner != unit and owner not in ALLOWED[unit]):
                offences.append(f"{path.relative_to(ROOT)}:{line} names {kind} {name!r} of {owner}")
    assert offences == []


# -- the checkers themselves --------------------------------------------------------------------------------


def test_the_import_checker_sees_imports_inside_functions_and_submodules(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tickets.models import Ticket\n    from tickets import views\n"
                      "    import expert.rules\n")
    known = {"tickets", "tickets.models", "tickets.views", "expert", "expert.rules"}
    assert imports_of(module, "x.m", known) == {"tickets.models", "tickets.views", "expert.rules"}


def test_the_cycle_checker_finds_a_cycle_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_name_checker_sees_tables_models_and_signals_named_in_strings():
    source = ('t = sa.table("tickets", sa.column("id"))\n'
              'fk = sa.ForeignKey("queues.id")\n'
              'rel = relationship("Ticket")\n'
              'group: Mapped["Queue"] = relationship()\n'
              'hook = signal("tickets.ticket-created")\n'
              'ok = _signals.signal("own-signal")\n')
    assert names_used_as_strings(source) == [
        (1, "table", "tickets"), (2, "table", "queues"), (3, "model", "Ticket"), (4, "model", "Queue"),
        (5, "signal", "tickets.ticket-created")]


def test_the_table_lists_every_crm_domain_below_the_ones_that_use_it():
    assert ALLOWED["crm.organisations"] == {"crm.core", "notifications"}
    assert "crm.organisations" in ALLOWED["crm.imports"] and "crm.imports" not in ALLOWED["crm.portal"]


def test_every_signal_of_the_application_has_a_receiver(app):
    import blinker

    modules = [m for m in project_modules() if m.endswith(".signals")]
    assert len(modules) >= 4
    unheard = []
    for name in modules:
        module = __import__(name, fromlist=["_"])
        for attribute, value in vars(module).items():
            if isinstance(value, blinker.NamedSignal) and not value.receivers:
                unheard.append(f"{name}.{attribute}")
    assert unheard == []
