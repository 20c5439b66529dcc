"""The property test of :mod:`tests.integration.export.test_write_order`, with what it leaves
out: writers that die holding their number (its entry expires by the server's clock, after
their writes landed, as the lease assumes), and rows the mirror removes (a deletion recorded
under its own number, :mod:`metasync.models.deletions`), every step of each interleaved at
random with writes committing late and with exports. After one more export the warehouse
equals the mirror: rows removed are gone from it, rows written again after a removal are
there."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from metasync.export import export_tenant
from metasync.models import AdAccount, DailyInsight, ReportRow, numbering, upsert_page
from metasync.models.deletions import record_removed
from metasync.models.numbering import WriteSequence, server_time
from tests.integration.export.test_write_order import (
    KEYS,
    PAGE,
    PHASES,
    Writer,
    mirror,
    mirrored_reports,
    report_rows,
    warehouse,
)


def expire(tenant: str, account: str, seq: int) -> None:
    """The entry of ``seq`` as the server sees it a lease after it was given."""
    WriteSequence._get_collection().update_one(
        {"tenant_id": tenant, "account_id": account, "inflight.seq": seq},
        {"$set": {"inflight.$.at": server_time() - timedelta(seconds=numbering.LEASE_SECONDS + 1)}},
    )


class FaultyWriter(Writer):
    """A :class:`Writer` with a fault (``fate``). ``dies``: its worker dies after its first
    page's writes; the page's number is never released, its entry expires and its later steps
    never come. ``late``: each page's writes start after its number's entry expired (a write
    slower than the lease), so an export may have passed the number; as
    :func:`~metasync.models.numbering.under_number` does, the page is written again under a
    new number before it is released."""

    def __init__(self, tenant: str, account: str, pages: list[Any], fate: str) -> None:
        super().__init__(tenant, account, pages, 0)
        self.fate = fate

    def step(self) -> None:
        if not self.pages:
            return
        phase = PHASES[self.phase]
        if self.fate == "dies" and phase == "release":
            expire(self.tenant, self.account, self.number)
            self.pages.clear()
            return
        if self.fate == "late" and phase == "daily":
            expire(self.tenant, self.account, self.number)
        if self.fate == "late" and phase == "release":
            numbering.release(self.tenant, self.account, self.number)
            self.phase = 0
            for _ in ("reserve", "daily", "reports"):
                super().step()  # the page again, under a new number
        super().step()


class Remover:
    """What removes rows from the mirror (the ``placement`` upgrade, say) in three steps:
    reserve a number; remove the daily and report rows of some (ad, day) keys and record them
    as removed under it; release it."""

    steps = 3

    def __init__(self, tenant: str, account: str, keys: list[tuple[str, str]]) -> None:
        self.tenant, self.account, self.keys = tenant, account, keys
        self.phase, self.number = 0, 0

    def step(self) -> None:
        if self.phase == 0:
            self.number = numbering.reserve(self.tenant, self.account)
        elif self.phase == 1:
            for model, source, day in (
                (DailyInsight, "daily", "date"),
                (ReportRow, "reports", "span"),
            ):
                collection = model._get_collection()
                for ad, when in self.keys:
                    where = {
                        "tenant_id": self.tenant,
                        "account_id": self.account,
                        "entity_id": ad,
                        day: when,
                    }
                    found = list(collection.find(where))
                    record_removed(self.tenant, self.account, source, found, self.number)
                    collection.delete_many({"_id": {"$in": [d["_id"] for d in found]}})
        else:
            numbering.release(self.tenant, self.account, self.number)
        self.phase += 1


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # an example is real I/O (half a second): a failure prints its whole schedule unshrunk
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    plans=st.lists(st.lists(PAGE, min_size=1, max_size=3), min_size=3, max_size=3),
    fates=st.lists(st.sampled_from(["ok", "dies", "late"]), min_size=3, max_size=3),
    removed=st.lists(
        st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), min_size=2, max_size=2
    ),
    exports=st.integers(1, 5),
    data=st.data(),
)
def test_the_warehouse_equals_the_mirror_with_dead_writers_and_removals(
    mongo: str,
    postgres_url: str,
    plans: list[list[list[Any]]],
    fates: list[str],
    removed: list[list[tuple[str, str]]],
    exports: int,
    data: st.DataObject,
) -> None:
    """Three writers (two on one account; any may die holding its number or write later than
    its lease), two removers (one per account) and exports, every step in a random order;
    then one more export."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    accounts = ("7", "8", "7")
    upsert_page(
        AdAccount,
        [{"tenant_id": tenant, "meta_id": f"act_{a}", "account_id": a} for a in set(accounts)],
    )
    actors: list[Any] = [
        FaultyWriter(tenant, account, plan, fate)
        for account, plan, fate in zip(accounts, plans, fates, strict=True)
    ]
    actors += [
        Remover(tenant, account, keys) for account, keys in zip(("7", "8"), removed, strict=True)
    ]
    tokens = [i for i, a in enumerate(actors) for _ in range(a.steps)] + [-1] * exports
    for token in data.draw(st.permutations(tokens), label="schedule"):
        if token < 0:
            export_tenant(tenant, postgres_url, batch_rows=2)
        else:
            actors[token].step()
    export_tenant(tenant, postgres_url, batch_rows=2)
    assert warehouse(postgres_url, tenant) == mirror(tenant)
    assert report_rows(postgres_url, tenant) == mirrored_reports(tenant)
