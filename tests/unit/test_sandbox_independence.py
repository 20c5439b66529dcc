"""The sandbox keeps its own reading of Meta: if it imported metasync's rules, a misreading of
Meta would be shared by the oracle and every test would pass. No sandbox module imports
metasync's sync, optimizer or rate budgets; the modules that serve calls, count them and
compute insights import none of metasync's report rules either."""

from __future__ import annotations

import ast
from pathlib import Path

import metasync.sandbox.app

SANDBOX = Path(metasync.sandbox.app.__file__).parent
NEVER = ("metasync.budgets", "metasync.sync", "metasync.optimize", "metasync.ratelimit")
OWN_READING = ("graph_api", "usage", "insights_api", "rate_limits", "reach", "pacing", "metrics",
               "delivery", "writes_api", "insights_query", "app", "breakdowns", "ground_truth",
               "breakdown_rules", "fx")  # fmt: skip


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_sandbox_module_imports_metasyncs_sync_optimizer_or_budgets() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in SANDBOX.glob("*.py")
        for name in _imports(path)
        if name.startswith(NEVER)
    }
    assert offending == set()


def test_the_modules_that_serve_and_count_calls_import_no_report_rules() -> None:
    offending = {
        f"{module}: {name}"
        for module in OWN_READING
        for name in _imports(SANDBOX / f"{module}.py")
        if name.startswith("metasync.") and not name.startswith("metasync.sandbox")
    }
    assert offending == set()
