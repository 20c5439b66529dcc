"""Past days in a new reporting currency: sending a tenant's stored days to its warehouse again
after its currency or the reference rates changed.

Converted values are computed when a row is read (:mod:`metasync.export.currency`), and the
export sends a row again when the row's write number is removed
(:mod:`metasync.models.numbering`: the next export numbers such rows and reads them). So a
rebuild rewrites nothing: it removes the numbers of the tenant's daily rows and report rows,
day by day in ascending order, a batch of days at a time, and records how far it got on the
tenant's :class:`~metasync.models.CurrencyRebuild` (``next_day``). It is incremental (a batch
is a few indexed updates per ad account) and resumable (an interrupted rebuild goes on from
``next_day``, and every export resumes it first: ``metasync export run`` and the export after
each sync).

**What asks for one.** Setting or changing the currency (every day) and loading rates that are
new or different (the days from the first changed rate on, for tenants converting from or into
that currency). Requests merge: what waits is always "every stored day from ``next_day`` on",
and a new request moves ``next_day`` back, never forward (``$min``), and bumps ``generation``
so a rebuild running meanwhile cannot record progress over days the new request covers.

**What it assumes.** An export reads the currency and rates when it starts. One that started
before the request and still runs could send a day again with the old ones after the rebuild
removed its numbers; so a rebuild waits (and says so) while such an export holds its lease,
and the next export resumes it. Rows a sync writes meanwhile get a new number anyway.
"Started before" is judged by no clock: each request bumps ``generation``, and an export
notes on its lease the generation it saw, after resuming the rebuild and before reading the
currency (a change, of the currency or the rates, is stored before its request); a rebuild
waits for live leases noting an older one, or none yet. "Holds its lease" is judged by the
server's clock (``expires_at`` is set from it, :mod:`metasync.export.lease`): an export whose
worker died stops holding the rebuild back when its lease expires, even though its run stays
``running`` until the next export of that destination.

Trade-off: rows are sent again whole (every table built from them: ``basic_ad``, its actions,
the demographics and metasync's own tables), not only their converted columns; a currency
change costs one re-export of the history, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from metasync import db
from metasync.models import (
    REBUILT,
    AdAccount,
    CurrencyRebuild,
    DailyInsight,
    FxRate,
    ReportRow,
    TenantSettings,
    request_rebuild,
    utcnow,
)
from metasync.models.numbering import server_time

__all__ = [
    "Rebuilt",
    "after_rates",
    "days_by_account",
    "generation",
    "pending",
    "request",
    "resume",
]

log = logging.getLogger(__name__)

WHOLE_RANGE = "all_days"  # the span of a report row covering the whole range (its day moves)
UNNUMBER = {"$unset": {"seq": ""}}
LEASES = "export_leases"  # metasync.export.lease (which imports nothing of this module's)

Progress = Callable[[int, int], None]  # (days sent again so far, days in this pass)


@dataclass
class Rebuilt:
    """What :func:`resume` did: ``days`` sent again over ``passes`` (a new request during one
    starts another), or why it waits (``deferred``)."""

    days: int = 0
    passes: int = 0
    deferred: str | None = None


def request(tenant_id: str, since: str | None, reason: str) -> None:
    """Every stored day of the tenant from ``since`` (None: every day) waits to be sent again.
    One atomic update; merges with what already waits."""
    request_rebuild(tenant_id, since, reason)


def after_rates(first_changed: dict[str, str]) -> None:
    """Rates changed from ``first_changed[currency]`` on: a request for each tenant converting
    from (its ad accounts' currencies) or into (its reporting currency) one of them."""
    for settings in TenantSettings.objects(reporting_currency__ne=None).only(
        "tenant_id", "reporting_currency"
    ):
        accounts = AdAccount.objects(tenant_id=settings.tenant_id).distinct("currency")
        touched = {
            c: first_changed[c]
            for c in {*accounts, settings.reporting_currency}
            if c in first_changed
        }
        if touched:
            since = min(touched.values())
            names = ", ".join(sorted(touched))
            request(settings.tenant_id, since, f"rates of {names} loaded, from {since} on")


def pending(tenant_id: str) -> CurrencyRebuild | None:
    """The tenant's rebuild when days wait, else None."""
    found: CurrencyRebuild | None = CurrencyRebuild.objects(
        tenant_id=tenant_id, next_day__ne=REBUILT
    ).first()
    return found


def days_by_account(tenant_id: str) -> dict[str, list[str]]:
    """Per ad account, the days (``YYYY-MM-DD``, ascending) its daily rows and report rows
    hold. Distinct reads on the (tenant, account, ...) indexes."""
    daily = DailyInsight._get_collection()
    rows = ReportRow._get_collection()
    where = {"tenant_id": tenant_id}
    reports = rows.distinct("report", where)
    accounts = {*daily.distinct("account_id", where), *rows.distinct("account_id", where)}
    found: dict[str, list[str]] = {}
    for account in sorted(accounts):
        mine = {**where, "account_id": account}
        days = set(daily.distinct("date", mine))
        if reports:
            days |= set(rows.distinct("span", {**where, "report": {"$in": reports}, **mine}))
        found[account] = sorted(d for d in days if isinstance(d, str) and d != WHOLE_RANGE)
    return found


def resume(
    tenant_id: str,
    *,
    days_per_batch: int = 7,
    progress: Progress | None = None,
    exporting: str | None = None,
) -> Rebuilt:
    """Send the tenant's waiting days again (see the module's docstring), ``days_per_batch``
    days per recorded step; ``progress`` is told after each. Returns at once when nothing
    waits. Safe to run twice at once (days are at worst sent again twice). ``exporting``: the
    key of the calling export's own lease (it has not read the currency yet: not waited for)."""
    done = Rebuilt()
    while True:
        state = CurrencyRebuild._get_collection().find_one({"tenant_id": tenant_id})
        if state is None or state["next_day"] >= REBUILT:
            return done
        if _export_older_than(tenant_id, int(state.get("generation") or 0), exporting):
            done.deferred = (
                "an export that started before the change is still running: the days are sent "
                "again by the next export"
            )
            return done
        done.passes += 1
        if not _one_pass(tenant_id, state, days_per_batch, progress, done):
            continue  # a new request came meanwhile: start it over
        return done


def _one_pass(
    tenant_id: str,
    state: dict[str, object],
    days_per_batch: int,
    progress: Progress | None,
    done: Rebuilt,
) -> bool:
    """One pass from ``next_day``; False when a newer request overtook it."""
    start, generation = str(state["next_day"]), state.get("generation", 0)
    settings = TenantSettings.objects(tenant_id=tenant_id).only("reporting_currency").first()
    newest = FxRate.objects.order_by("-loaded_at").only("loaded_at").first()
    accounts = {
        a: [d for d in days if d >= start] for a, days in days_by_account(tenant_id).items()
    }
    days = sorted({d for waiting in accounts.values() for d in waiting})
    collection = CurrencyRebuild._get_collection()
    mine = {"tenant_id": tenant_id, "generation": generation}
    collection.update_one(
        mine,
        {
            "$set": {
                "currency": settings.reporting_currency if settings is not None else None,
                "rates_loaded_at": newest.loaded_at if newest is not None else None,
                "days_total": len(days),
                "days_done": 0,
            }
        },
    )
    if progress is not None:
        progress(0, len(days))
    rows = ReportRow._get_collection()
    rows.update_many({"tenant_id": tenant_id, "span": WHOLE_RANGE}, UNNUMBER)
    for index in range(0, len(days), days_per_batch):
        batch = days[index : index + days_per_batch]
        _send_again(tenant_id, accounts, batch)
        last = index + len(batch) >= len(days)
        following = REBUILT if last else days[index + len(batch)]
        step: dict[str, object] = {"next_day": following, "days_done": index + len(batch)}
        if last:
            step["finished_at"] = utcnow()
        if collection.update_one(mine, {"$set": step}).matched_count == 0:
            return False
        done.days += len(batch)
        if progress is not None:
            progress(index + len(batch), len(days))
    if not days:
        changed = collection.update_one(
            mine, {"$set": {"next_day": REBUILT, "finished_at": utcnow()}}
        )
        return bool(changed.matched_count)
    return True


def _send_again(tenant_id: str, accounts: dict[str, list[str]], batch: list[str]) -> None:
    """Remove the write numbers of ``batch``'s rows: the next export sends them again."""
    daily, rows = DailyInsight._get_collection(), ReportRow._get_collection()
    reports = rows.distinct("report", {"tenant_id": tenant_id})
    wanted = set(batch)
    for account, days in accounts.items():
        mine = sorted(wanted.intersection(days))
        if not mine:
            continue
        where = {"tenant_id": tenant_id, "account_id": account}
        daily.update_many({**where, "date": {"$in": mine}}, UNNUMBER)
        if reports:
            span = {"report": {"$in": reports}, "span": {"$in": mine}}
            rows.update_many({**where, **span}, UNNUMBER)


def generation(tenant_id: str) -> int:
    """The tenant's latest rebuild request (0: none yet); an export notes it on its lease
    before it reads the currency (:meth:`metasync.export.lease.Lease.note_rebuild`)."""
    state = CurrencyRebuild._get_collection().find_one({"tenant_id": tenant_id}, {"generation": 1})
    return int((state or {}).get("generation") or 0)


def _export_older_than(tenant_id: str, requested: int, exporting: str | None) -> bool:
    """An export of the tenant that read the currency before request ``requested`` (its lease
    notes an older generation, or none yet) still holds a live lease: taken, and not expired
    by the server's clock; ``exporting``'s lease aside. An export whose worker died stops
    counting when its lease expires, whatever its run still says."""
    live = {
        "_id": {"$ne": exporting},
        "tenant_id": tenant_id,
        "holder": {"$ne": None},
        "expires_at": {"$gt": server_time()},
        "$or": [{"rebuild_generation": {"$lt": requested}}, {"rebuild_generation": None}],
    }
    return db.database()[LEASES].find_one(live, {"_id": 1}) is not None
