"""Entrypoints go through use cases (issue 14): api/, web/, the hospital interface (interface/) and the command
line (cli*.py) import nothing from yidi.adapters or SQLAlchemy and open no unit of work of their own — every
query lives in services/, which answers frozen values.

A plain AST scan of the source files (imports anywhere in a module, also inside functions), so the check needs
no database and fails on the line that breaks the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "yidi"
ENTRYPOINTS = ("api", "web", "interface")
FORBIDDEN_IMPORTS = ("yidi.adapters", "sqlalchemy")
# Reaching the database from an entrypoint: a unit of work, or a session's statement methods.
FORBIDDEN_CALLS = ("unit_of_work", "execute", "scalars", "scalar")


def entrypoint_files() -> list[Path]:
    return sorted([path for folder in ENTRYPOINTS for path in (SRC / folder).glob("*.py")]
                  + list(SRC.glob("cli*.py")))


def _relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def database_calls(tree: ast.AST) -> list[tuple[int, str]]:
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN_CALLS]


def _is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_IMPORTS)


def test_the_scan_finds_what_it_looks_for():
    """The checks below cannot pass vacuously: the scan sees entrypoint files and recognises the patterns."""
    assert len(entrypoint_files()) >= 30
    assert {"cli.py", "web/desk.py", "api/claims.py", "interface/execution.py"} <= {
        _relative(p) for p in entrypoint_files()}
    tree = ast.parse("import sqlalchemy\nfrom yidi.adapters.orm import VisitRow\n"
                     "def f(ctx):\n    from sqlalchemy import select\n"
                     "    with ctx.unit_of_work() as s:\n        s.execute(select(VisitRow))\n")
    assert [m for _, m in imported_modules(tree) if _is_forbidden(m)] == [
        "sqlalchemy", "yidi.adapters.orm", "yidi.adapters.orm.VisitRow", "sqlalchemy", "sqlalchemy.select"]
    assert sorted(call for _, call in database_calls(tree)) == ["execute", "unit_of_work"]
    assert not _is_forbidden("sqlalchemy_utils") and not _is_forbidden("yidi.adapters_x")


@pytest.mark.parametrize("path", entrypoint_files(), ids=_relative)
def test_entrypoint_imports_no_adapter_and_no_sqlalchemy(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = [f"{_relative(path)}:{line} imports {module}" for line, module in imported_modules(tree)
             if _is_forbidden(module)]
    assert not wrong, "entrypoints call services (use cases), never the adapters or SQL:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", entrypoint_files(), ids=_relative)
def test_entrypoint_opens_no_unit_of_work_and_runs_no_statement(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = [f"{_relative(path)}:{line} calls .{call}()" for line, call in database_calls(tree)]
    assert not wrong, "a query belongs in a services module returning frozen values:\n" + "\n".join(wrong)
