"""A run's document does not grow with its pages or subtasks; old bookkeeping expires."""

from __future__ import annotations

import bson
import pytest

from metasync import db
from metasync.models import MetaConnection, RunStatus, SyncRun
from metasync.sync import SyncContext, run_inline
from metasync.sync.read import edges as entity_sync


def _size(run_id: str) -> int:
    raw = SyncRun._get_collection().find_one({"_id": bson.ObjectId(run_id)})
    return len(bson.encode(raw))


def test_a_run_document_stays_the_same_size_however_many_pages(
    ctx: SyncContext, connections: list[MetaConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every page added its key to ``applied_pages`` and every subtask its key to
    ``scheduled`` and ``done`` and its arguments to ``handoffs``, for good."""
    first = run_inline(ctx, str(connections[0].pk), full=True)
    few = SyncRun.objects.get(pk=first.run_id)
    monkeypatch.setattr(entity_sync, "PAGE_SIZE", 1)  # one object a page
    monkeypatch.setattr(entity_sync, "PAGES_PER_TASK", 1)  # one page a subtask
    second = run_inline(ctx, str(connections[0].pk), full=True)
    many = SyncRun.objects.get(pk=second.run_id)
    assert few.status == many.status == RunStatus.SUCCEEDED
    assert many.pages > 5 * few.pages and many.subtasks_total > 5 * few.subtasks_total
    # the same objects, counted once each; the activity log goes on from the first run
    assert few.entities.pop("activities") > 0 and many.entities.pop("activities") == 0
    assert many.entities == few.entities
    assert many.inflight == {}
    assert abs(_size(second.run_id) - _size(first.run_id)) < 64


def test_runs_report_jobs_and_webhook_events_expire(ctx: SyncContext) -> None:
    db.ensure_indexes(ctx.settings.RUN_RETENTION_DAYS)
    database = db.database()

    def retention() -> dict[str, tuple[object, object]]:
        found = {}
        for name in ("sync_runs", "report_runs", "webhook_events", "export_runs"):
            index = {i["name"]: i for i in database[name].list_indexes()}["retention"]
            found[name] = (list(index["key"]), index["expireAfterSeconds"])
        return found

    assert retention() == {
        "sync_runs": (["finished_at"], 90 * 86400),
        "report_runs": (["updated_at"], 90 * 86400),
        "webhook_events": (["received_at"], 90 * 86400),
        "export_runs": (["started_at"], 90 * 86400),
    }
    db.ensure_indexes(30)  # a new RUN_RETENTION_DAYS takes effect at the next start
    assert {name: seconds for name, (_, seconds) in retention().items()} == dict.fromkeys(
        ("sync_runs", "report_runs", "webhook_events", "export_runs"), 30 * 86400
    )
