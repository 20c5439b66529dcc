"""The MongoDB connection survives fork: a child reconnects and the parent keeps working."""

from __future__ import annotations

import multiprocessing
import warnings

from metasync import db
from metasync.models import Campaign, upsert_page


def _child(uri: str, name: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db.connect(uri, database_name=name)  # what worker_process_init does
    upsert_page(Campaign, [{"tenant_id": "t", "meta_id": "child", "account_id": "1"}])
    queue.put(Campaign.objects.count())
    db.disconnect()


def test_child_process_reconnects_after_fork(mongo_uri: str, mongo: str) -> None:
    upsert_page(Campaign, [{"tenant_id": "t", "meta_id": "parent", "account_id": "1"}])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(mongo_uri, mongo, queue))
    with warnings.catch_warnings():  # Python 3.12+ warns about fork with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        process.start()
    process.join(30)
    assert process.exitcode == 0
    assert queue.get(timeout=5) == 2
    assert sorted(c.meta_id for c in Campaign.objects) == ["child", "parent"]
