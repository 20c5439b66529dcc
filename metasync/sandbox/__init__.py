"""A synthetic Graph API that models Meta, not metasync.

It keeps its own reading of Meta's documentation and imports nothing of metasync's sync, reports,
budgets, optimizer, Graph client or models (held by the import-linter contract in
``pyproject.toml`` and ``tests/unit/test_sandbox_independence.py``), so a misreading of Meta on
metasync's side fails a test instead of being shared by the oracle.
"""
