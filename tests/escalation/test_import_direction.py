"""Escalation's imports point one way, checked on the source: `dispatch` is a leaf that knows
task names only, the engine and the notifier never import the tasks that call them, and no
module hides an import inside a function to dodge a cycle."""

import ast
from pathlib import Path

import pytest

from config import settings as project_settings
from escalation import failpoints

ESCALATION = Path(__file__).resolve().parents[2] / "escalation"


def imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def parsed(name: str) -> ast.AST:
    return ast.parse((ESCALATION / name).read_text())


def test_dispatch_imports_no_escalation_module():
    assert {m for m in imported_modules(parsed("dispatch.py")) if m.startswith("escalation")} == set()


@pytest.mark.parametrize("name", ["engine.py", "notify.py"])
def test_the_engine_and_the_notifier_never_import_the_tasks(name):
    assert not {m for m in imported_modules(parsed(name)) if m.startswith("escalation.tasks")}


def test_no_escalation_module_imports_inside_a_function():
    offenders = []
    for path in ESCALATION.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                offenders += [f"{path.name}:{inner.lineno}" for inner in ast.walk(node)
                              if isinstance(inner, ast.Import | ast.ImportFrom)]
    assert offenders == []


def test_failpoints_do_nothing_unless_the_setting_enables_them(settings):
    calls = []
    with failpoints.installed("test_point", lambda: calls.append(1)):
        settings.FAILPOINTS_ENABLED = False
        failpoints.hit("test_point")
        assert calls == []
        settings.FAILPOINTS_ENABLED = True
        failpoints.hit("test_point")
        assert calls == [1]


def test_failpoints_are_off_by_default():
    assert project_settings.FAILPOINTS_ENABLED is False
