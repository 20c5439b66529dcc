"""One export of one tenant into one destination: incremental, idempotent and resumable.

- **What is read.** Daily rows and report rows are read per ad account in write-number order
  (``seq``, then id; :mod:`metasync.models.numbering`) from the account's mark up to its
  watermark, so an export's cost follows what the syncs since the last one wrote, not the
  history. Objects, activities, recommendations, audit entries and reconciliations are read
  whole: they grow with the number of objects, not with days, and unchanged rows are not
  rewritten.
- **Exactly once, whatever the commit order and the workers' clocks.** The position is a number
  the database gives each page before it is written, not a time: the export never reads past
  the smallest number still being written (the watermark), so a page that commits after a
  later-numbered one waits for it, and no writer's clock is read (accounts syncing while the
  export runs are exported up to their watermark, not skipped). A row written again takes a
  new number and is exported again; rows are merged by key, so a row exported twice is
  harmless and one exported never is not possible, under the assumptions named in
  :mod:`metasync.models.numbering` (one server clock; a writer that died has nothing pending
  on the server ``LEASE_SECONDS`` after it reserved). Rows with no number (an earlier
  metasync's) are numbered when their account is read; an earlier metasync's mark by time is
  replaced by reading its account again from the start, once, and so is a mark of another
  numbering of the account (its sequence document created again, or restored behind the
  mark: the mark's ``epoch`` and number, :mod:`metasync.models.numbering`).
- **Rows the mirror removed** (:mod:`metasync.models.deletions`) are read the same way, after
  the account's rows, and deleted from the warehouse by key in the batch that carries their
  mark (:mod:`metasync.export.removed`); a row written again after its removal stays.
- **Lead Ads** (:mod:`metasync.export.leads`): forms are read whole; leads are read by write
  number per page's stream (its own numbering, like an account's) with their answers opened
  here, and the leads erased since (``export_deletions``, source ``leads``) are deleted with
  their answers, whatever the mirror holds.
- **Rows set aside** (a value the destination cannot hold, :mod:`metasync.export.values`) are
  named on the run. One behind the mark is sent again when the mirror has it right: a sync
  that writes it again gives it a new number, and objects are read whole every time; a row
  corrected by hand in MongoDB must have its number removed (``{"$unset": {"seq": ""}}``).
- **Resumable.** A batch's rows and the account's new mark commit in one transaction of the
  destination; an export killed at any line resumes from its last committed batch.
- **One at a time.** An export holds a lease on its (tenant, destination) in MongoDB for
  ``EXPORT_LEASE_SECONDS`` (renewed each batch); a second one is refused with
  :class:`ExportBusy` and a killed one's lease runs out. Every export is recorded as an
  :class:`~metasync.models.ExportRun` with its counts or its error.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from metasync.export import rebuild
from metasync.export.currency import Converter, Gap, gaps
from metasync.export.derived import basic_ad_tables, demographic_tables, windowed_ads
from metasync.export.destinations import connect, parse, schema_for
from metasync.export.fivetran import (
    entity_row,
    is_basic_ad_row,
    number_id,
    url_tag_rows,
)
from metasync.export.leads import LEAD_SOURCES, LeadTables, erased_lead_keys, lead_form_row
from metasync.export.lease import ExportBusy, ExportError, Lease
from metasync.export.ordered import distrust, next_batch
from metasync.export.own import own_row
from metasync.export.removed import gone_keys
from metasync.export.tables import TABLES
from metasync.export.warehouse import Mark, Warehouse
from metasync.models import (
    Ad,
    AdAccount,
    AdActivity,
    AdCreative,
    AdSet,
    AuditEntry,
    Campaign,
    DailyInsight,
    ExportRun,
    Recommendation,
    Reconciliation,
    ReportRow,
    TenantSettings,
    utcnow,
)
from metasync.models.deletions import ExportDeletion
from metasync.models.leads import ANSWERS_SOURCE, LeadForm, lead_streams
from metasync.models.numbering import Position, number_unnumbered, position, server_time

__all__ = ["ExportBusy", "ExportError", "ExportResult", "export_tenant"]

log = logging.getLogger(__name__)

ENTITIES = (
    ("account", AdAccount),
    ("campaign", Campaign),
    ("adset", AdSet),
    ("ad", Ad),
    ("creative", AdCreative),
)
HISTORY = {
    "account": "account_history",
    "campaign": "campaign_history",
    "adset": "ad_set_history",
    "ad": "ad_history",
    "creative": "creative_history",
}
# the sources read in write-number order: rows, then the rows the mirror removed (after the
# rows, so a batch of deletions meets the mirror as its rows' export left it)
NUMBERED = (("daily", DailyInsight), ("reports", ReportRow), ("deleted", ExportDeletion))
WHOLE = (
    ("metasync_activities", AdActivity),
    ("metasync_recommendations", Recommendation),
    ("metasync_optimizer_audit", AuditEntry),
    ("metasync_reconciliations", Reconciliation),
)


@dataclass
class ExportResult:
    run_id: str
    destination: str
    schema: str
    rows: Counter[str] = field(default_factory=Counter)  # rows added, changed or removed
    read: Counter[str] = field(default_factory=Counter)  # mirror documents read
    numbered: Counter[str] = field(default_factory=Counter)  # rows found without a number
    deleted: Counter[str] = field(default_factory=Counter)  # rows the mirror removed, per table
    rebuilt: rebuild.Rebuilt = field(default_factory=rebuild.Rebuilt)  # past days sent again
    unconverted: list[Gap] = field(default_factory=list)  # days without a reporting value
    # rows the destination cannot hold, set aside and named (the first MAX_REJECTED), and
    # how many there were: the export still succeeds (see metasync.export.values)
    rejected: list[str] = field(default_factory=list)
    rejected_count: int = 0


def export_tenant(
    tenant_id: str,
    url: str,
    *,
    schema: str | None = None,
    batch_rows: int = 5000,
    lease_seconds: int = 600,
) -> ExportResult:
    """Export ``tenant_id``'s mirror into ``url`` (see :mod:`metasync.export.destinations`)
    under ``schema`` (default ``facebook_ads_<tenant>``). Raises
    :class:`~metasync.export.destinations.DestinationError` for a URL it cannot use,
    :class:`ExportBusy` when
    another export holds the destination and :class:`ExportError` when it fails (recorded on
    the export's run first).

    Every export first resumes the tenant's waiting rebuild of past days
    (:func:`metasync.export.rebuild.resume`: days in a new reporting currency or at new rates,
    then sent by this export), and records on its run the days that still have no
    reporting-currency value (:func:`metasync.export.currency.gaps`); both are on the result
    (``rebuilt``, ``unconverted``)."""
    destination = parse(url)  # a URL metasync cannot use is refused before anything is recorded
    shown = destination.label  # never the password; the runs are keyed by it
    lease = Lease(tenant_id, destination.key, lease_seconds, shown)  # one for every spelling
    lease.take()
    ExportRun.objects(tenant_id=tenant_id, destination=shown, status="running").update(
        set__status="failed",
        set__finished_at=utcnow(),
        set__error="interrupted: the export stopped before it finished; the next one resumed it",
    )
    run = ExportRun(tenant_id=tenant_id, destination=shown, status="running").save()
    result = ExportResult(str(run.pk), shown, schema or schema_for(tenant_id))
    warehouse: Warehouse | None = None
    try:
        # past days in a new currency or at new rates: unnumbered before the exporter reads
        # the currency, so this export sends them (deferred while an older export runs)
        result.rebuilt = rebuild.resume(tenant_id, exporting=lease.key)
        lease.note_rebuild(rebuild.generation(tenant_id))  # every change up to it is stored
        warehouse = connect(destination)
        warehouse.hold(lease.renew, lease.seconds)  # fences destinations without transactions
        warehouse.open_schema(result.schema)
        _Exporter(tenant_id, warehouse, result, batch_rows, lease).run()
        result.unconverted = gaps(tenant_id)  # on the run: a failure here fails it, named
    except Exception as exc:  # noqa: BLE001 - recorded on the run, raised as ExportError
        if warehouse is not None:
            _quietly(warehouse.rollback)
        message = f"export of tenant {tenant_id} to {shown} failed: {type(exc).__name__}: {exc}"
        message = destination.redact(message)  # a driver's error may echo the URL
        run.update(set__status="failed", set__error=message, **_outcome(result, warehouse))
        log.warning(message)
        raise ExportError(message) from None
    finally:
        if warehouse is not None:
            _quietly(warehouse.close)
        lease.release()
    run.update(
        set__status="succeeded",
        set__unconverted=[g.record() for g in result.unconverted],
        **_outcome(result, warehouse),
    )
    if warehouse is not None and warehouse.values.rejected_count:
        result.rejected = list(warehouse.values.rejected)
        result.rejected_count = warehouse.values.rejected_count
        log.warning(
            "export of tenant %s to %s: %d rows not written (the destination cannot hold them)",
            tenant_id,
            shown,
            result.rejected_count,
        )
    return result


def _outcome(result: ExportResult, warehouse: Warehouse | None) -> dict[str, Any]:
    """What a finished run records either way: rows written and read, characters removed from
    text per table (:mod:`metasync.export.values`), and the rows set aside (the first
    ``MAX_REJECTED`` named, all counted)."""
    recorded: dict[str, Any] = {
        "set__finished_at": utcnow(),
        "set__rows": dict(result.rows),
        "set__read": dict(result.read),
    }
    if warehouse is not None:
        values = warehouse.values
        recorded["set__cleaned"] = dict(values.removed)
        recorded["set__rejected"] = list(values.rejected)
        recorded["set__rejected_count"] = values.rejected_count
    else:
        recorded["set__cleaned"] = {}
    return recorded


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception:  # closing after a failure must not hide the failure
        log.debug("closing the destination after a failure failed too", exc_info=True)


class _Exporter:
    def __init__(
        self, tenant_id: str, warehouse: Warehouse, result: ExportResult, batch: int, lease: Lease
    ) -> None:
        self.tenant, self.warehouse, self.result = tenant_id, warehouse, result
        self.batch, self.lease = batch, lease
        self.synced = utcnow()
        settings = TenantSettings.objects(tenant_id=tenant_id).first()
        target = settings.reporting_currency if settings is not None else None
        self.converter = Converter(target) if target else None
        self.touched: set[str] = set()
        self.failures: list[str] = []
        self.fresh = False  # the rows being loaded are most likely new (see Warehouse.load)
        self.currency: dict[str, str | None] = {}
        self.lead_tables = LeadTables()  # reads the answers' keys at the first lead with some

    def run(self) -> None:
        """Every part in turn; a part that fails is rolled back and named, and the others go
        on (one account's bad row never holds back the rest). Raises :class:`ExportError`
        naming every part that failed, after the rest is committed. Rows set aside (a value
        the destination cannot hold) are no failure: they are named on the run, and raising
        would fail every later export too (objects are read whole each time)."""
        marks = self.warehouse.marks()
        first = self.fresh = not marks  # nothing exported yet: every row is new
        self.isolated("objects", self.entities)
        now = server_time()  # one clock judges every writer: the database's
        for account in AdAccount.objects(tenant_id=self.tenant).only("account_id"):
            for source, model in NUMBERED:
                part = f"account {account.account_id} {source} rows"
                self.isolated(part, self.incremental, account.account_id, source, model, marks, now)
        self.isolated("lead forms", self.lead_forms)
        for stream in lead_streams(self.tenant):  # a page's leads and erasures (export.leads)
            for source, model in LEAD_SOURCES:
                part = f"lead stream {stream} {source}"
                self.isolated(part, self.incremental, stream, source, model, marks, now)
        self.fresh = first
        for table, model in WHOLE:
            self.isolated(table, self.whole, table, model)
        self.warehouse.after_commit(self.touched)
        if self.failures:
            raise ExportError("; ".join(self.failures))

    def isolated(self, part: str, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except ExportError:
            raise  # the lease was lost: nothing more may be written
        except Exception as exc:  # noqa: BLE001 - named, rolled back, and the other parts go on
            self.warehouse.rollback()
            error = self.warehouse.redact(f"{type(exc).__name__}: {exc}")
            self.failures.append(f"{part}: {error}")
            log.warning("export of tenant %s: %s failed: %s", self.tenant, part, error)

    def whole(self, table: str, model: Any) -> None:
        for docs in self._pages(model, {"tenant_id": self.tenant}):
            self.result.read[table] += len(docs)
            self.load(table, [own_row(table, d) for d in docs])
            self.commit()

    # -- writing -----------------------------------------------------------------------
    def load(
        self, table: str, rows: list[tuple[Any, ...]], parents: list[tuple[Any, ...]] | None = None
    ) -> None:
        changed = self.warehouse.load(TABLES[table], rows, parents or [], fresh=self.fresh)
        self.result.rows[table] += changed
        if changed:
            self.touched.add(table)

    def commit(self) -> None:
        self.lease.renew()
        self.warehouse.commit()

    def _pages(self, model: Any, query: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        collection = model._get_collection()
        last: ObjectId | None = None
        while True:
            page = {**query, **({"_id": {"$gt": last}} if last is not None else {})}
            docs = list(collection.find(page).sort("_id", 1).limit(self.batch))
            if not docs:
                return
            yield docs
            last = docs[-1]["_id"]

    # -- objects -------------------------------------------------------------------------
    def entities(self) -> None:
        for kind, model in ENTITIES:
            for docs in self._pages(model, {"tenant_id": self.tenant}):
                self.result.read[kind] += len(docs)
                if kind == "account":
                    self.currency.update({d["account_id"]: d.get("currency") for d in docs})
                currency = self.currency.get
                rows = [entity_row(kind, d, currency(d["account_id"]), self.synced) for d in docs]
                self.load(HISTORY[kind], rows)
                if kind == "creative":
                    tags = [row for d in docs for row in url_tag_rows(d, self.synced)]
                    ids = (number_id(d.get("meta_id")) for d in docs)
                    parents = [(meta_id,) for meta_id in ids if isinstance(meta_id, int)]
                    self.load("url_tag", tags, parents)
                self.commit()

    # -- rows in write-number order ------------------------------------------------------
    def incremental(
        self,
        account: str,
        source: str,
        model: Any,
        marks: dict[tuple[str, str], Mark],
        now: datetime,
    ) -> None:
        """The account's rows of ``source`` (or its deletions) after its mark and below its
        watermark, in batches, each committed with the mark it reached."""
        collection = model._get_collection()
        if source != "deleted":  # removals are numbered when they are recorded
            unnumbered = number_unnumbered(collection, self.tenant, account, self.batch)
            self.result.numbered[source] += unnumbered
        at = position(self.tenant, account, now)  # after numbering: those rows are below
        mark = self._trusted(account, source, marks.get((account, source)), at)
        while True:
            docs = next_batch(collection, self.tenant, account, mark, at.watermark, self.batch)
            if not docs:
                return
            self.result.read[source] += len(docs)
            if source == "deleted":
                self.deletions(account, docs)
            elif source == "leads":
                self.leads(docs)
            else:  # daily rows or report rows
                self._prepare(docs)
                if source == "daily":
                    self.daily(docs)
                else:
                    self.reports(account, docs)
            last = docs[-1]
            # a short batch read every row below the watermark: its last number is done
            done = "" if len(docs) < self.batch else str(last["_id"])
            mark = Mark(int(last["seq"]), done, at.epoch)
            self.warehouse.set_mark(account, source, mark, utcnow())
            self.commit()

    def _trusted(self, account: str, source: str, mark: Mark | None, at: Position) -> Mark | None:
        """``mark``, or None when the account's ``source`` is to be read from the start (there
        is no mark, or it cannot be trusted: :func:`~metasync.export.ordered.distrust`)."""
        self.fresh = mark is None  # never exported: its rows are new (a first export)
        why = distrust(mark, at)
        if why is None:
            return mark
        log.warning(
            "export of tenant %s: account %s's %s are read again from the start: %s",
            self.tenant,
            account,
            source,
            why,
        )
        return None

    def deletions(self, account: str, docs: list[dict[str, Any]]) -> None:
        """Delete the keys of rows the mirror removed (:mod:`metasync.export.removed`), and the
        leads erased with their answers (:mod:`metasync.export.leads`)."""
        erased = erased_lead_keys(docs)
        if erased:
            self.load("lead_field_data", [], erased)  # every answer of these leads
            self._delete("lead", erased)
        rows = [d for d in docs if d["source"] != ANSWERS_SOURCE]
        if rows:
            for table, keys in gone_keys(self.tenant, account, rows).items():
                self._delete(table, keys)

    def _delete(self, table: str, keys: list[tuple[Any, ...]]) -> None:
        if keys:
            removed = self.warehouse.delete_keys(TABLES[table], keys)
            self.result.deleted[table] += removed
            self.result.rows[table] += removed  # on the run: rows added, changed or removed
            if removed:
                self.touched.add(table)

    def _prepare(self, docs: list[dict[str, Any]]) -> None:
        if self.converter is None:
            return
        days = [d.get("date") or d.get("date_start") for d in docs]
        known = [d for d in days if d]
        if known:
            currencies = {d.get("currency") for d in docs if d.get("currency")}
            self.converter.prepare(currencies, min(known), max(known))  # type: ignore[arg-type]

    def daily(self, docs: list[dict[str, Any]]) -> None:
        rows = [own_row("metasync_daily_insights", d, self.converter) for d in docs]
        self.load("metasync_daily_insights", rows)
        self.basic_ads([d for d in docs if is_basic_ad_row(d)])

    def basic_ads(self, ads: list[dict[str, Any]]) -> None:
        """``basic_ad`` and its action tables for ad-level daily rows."""
        for table, rows, parents in basic_ad_tables(self.tenant, ads, self.converter, self.synced):
            self.load(table, rows, parents)

    def reports(self, account: str, docs: list[dict[str, Any]]) -> None:
        rows = [own_row("metasync_report_rows", d, self.converter) for d in docs]
        self.load("metasync_report_rows", rows)
        # the window columns of these ads' days moved: their actions again
        self.basic_ads(windowed_ads(self.tenant, account, docs))
        for table, rows, parents in demographic_tables(
            self.tenant, account, docs, self.converter, self.synced
        ):
            self.load(table, rows, parents)

    # -- Lead Ads (metasync.export.leads) ----------------------------------------------------
    def lead_forms(self) -> None:
        for docs in self._pages(LeadForm, {"tenant_id": self.tenant}):
            self.result.read["lead_forms"] += len(docs)
            self.load("lead_form", [lead_form_row(d, self.synced) for d in docs])
            self.commit()

    def leads(self, docs: list[dict[str, Any]]) -> None:
        for table, rows, parents in self.lead_tables.of(docs, self.synced):
            self.load(table, rows, parents)
