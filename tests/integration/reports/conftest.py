"""A small world (one user, two accounts, eight ads each, nine days) synced in-process, its
entities first as the schedule does."""

from __future__ import annotations

import pytest

from metasync.models import MetaConnection
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from tests.support.small_world import quick_reports_env, small_world


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=1)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return quick_reports_env(sync_env)


@pytest.fixture
def connection(ctx: SyncContext, connections: list[MetaConnection]) -> MetaConnection:
    first = connections[0]
    run_inline(ctx, str(first.pk))  # entities first, as the schedule does
    return first
