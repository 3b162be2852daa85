"""What import-linter (pyproject.toml, run by `make test`) cannot see: no escalation module
hides an import inside a function to dodge a cycle. The one-way rules themselves (dispatch
a leaf, the engine never importing its tasks) are import-linter contracts."""

import ast
from pathlib import Path

from config import settings as project_settings
from escalation import failpoints

ESCALATION = Path(__file__).resolve().parents[2] / "escalation"


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
