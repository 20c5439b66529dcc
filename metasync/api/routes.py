"""``/api/v1``: a tenant's mirror, its health, its sync requests and its recommendations.

Every request carries an API key (``Authorization: Bearer msk_...`` or ``X-API-Key``) that
belongs to one tenant, and every query is filtered by that tenant: an id of another tenant's
object answers 404 exactly like an id that does not exist. Lists are pages in a stable order
with an opaque ``cursor``; a bad parameter answers 4xx naming it (FastAPI's validation for
types and ranges, :class:`ApiProblem` for the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

import redis
from bson import ObjectId
from fastapi import APIRouter, Depends, Path, Query, Response

from metasync.api.common import (
    ERRORS,
    ApiProblem,
    Auth,
    Cursor,
    Limit,
    after_key,
    check_day_range,
    decode_cursor,
    encode_cursor,
    metrics_of,
    reporting_converter,
    scoped,
    single_values,
)
from metasync.api.entities import add_entity_routes
from metasync.api.features import add_feature_routes
from metasync.api.keys import Caller
from metasync.api.leads import add_lead_routes
from metasync.api.limits import PendingSyncs, RateLimiter
from metasync.api.report_rows import add_report_routes
from metasync.api.schemas import (
    AccountOut,
    HealthOut,
    InsightOut,
    Page,
    Problem,
    RecommendationOut,
    SyncAccepted,
    SyncRequest,
    SyncStatus,
)
from metasync.config import Settings
from metasync.export.currency import Converter
from metasync.graph import MetaAPIError
from metasync.health.pages import every_health
from metasync.keys import RedisKeys
from metasync.models import (
    AdAccount,
    DailyInsight,
    OperatorAction,
    Recommendation,
    SyncRun,
    find_connection,
)
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import ApplyBusy, WriteNotPermitted
from metasync.optimize.outcome import outcome
from metasync.optimize.settings import (
    RecommendationError,
    UnknownRecommendation,
    decide_recommendation,
)
from metasync.sync import SyncContext
from metasync.sync.shapes.insights_map import video_totals

__all__ = ["ApiProblem", "SyncRequester", "api_router"]

SyncRequester = Callable[[str, dict[str, Any]], str]  # (connection id, task kwargs) -> request id
Day = Annotated[date | None, Query(description="YYYY-MM-DD, the account's day")]


def _insight(row: DailyInsight, converter: Converter | None) -> InsightOut:
    return InsightOut(
        date=row.date, video=video_totals(row), **metrics_of(row, converter, row.date)
    )


# a recommendation's fields its API answer copies as they are: what it is about, what the
# rule decided, and where it stands
_SUBJECT = ("account_id", "level", "entity_id")
_DECISION = ("rule", "kind", "action", "expected")
_STANDING = ("state", "proposed_at", "decided_by", "error")


def _recommendation(rec: Recommendation) -> RecommendationOut:
    copied = {name: getattr(rec, name) for name in (*_SUBJECT, *_DECISION, *_STANDING)}
    return RecommendationOut(
        id=str(rec.pk),
        **copied,
        change=dict(rec.change or {}),
        evidence=dict(rec.evidence or {}),
        failure=dict(rec.failure) if rec.failure else None,
        restore=[dict(r) for r in rec.restore or []],
    )


def _account(account: AdAccount) -> AccountOut:
    return AccountOut(
        id=account.meta_id.removeprefix("act_"),
        name=account.name,
        currency=account.currency,
        timezone_name=account.timezone_name,
        account_status=account.account_status,
    )


def api_router(
    settings: Settings,
    redis_client: redis.Redis,
    keys: RedisKeys,
    request_sync: SyncRequester | None,
) -> APIRouter:
    """The ``/api/v1`` routes (mounted by :func:`metasync.webhooks.app.create_app`); the
    entity routes (``/{kind}``, ``/{kind}/{id}``) come last so they never shadow a named one.
    Every request takes a token of its key's bucket (:mod:`metasync.api.limits`)."""
    limiter = RateLimiter(redis_client, keys, settings.API_REQUESTS_PER_MINUTE, settings.API_BURST)
    pending = PendingSyncs(redis_client, keys)

    def metered(who: Auth) -> None:
        wait = limiter.wait_seconds(who.key_id)
        if wait:
            used = (
                f"this key used its {settings.API_REQUESTS_PER_MINUTE} requests a minute "
                f"(burst {settings.API_BURST}); retry in {wait} s"
            )
            raise ApiProblem(429, used, {"Retry-After": str(wait)})

    router = APIRouter(
        prefix="/api/v1",
        tags=["api"],
        responses=ERRORS,
        dependencies=[Depends(single_values), Depends(metered)],
    )

    @router.get("/accounts", response_model=Page[AccountOut])
    def accounts(who: Auth, limit: Limit = 100, cursor: Cursor = None) -> Page[AccountOut]:
        """The tenant's ad accounts, by id."""
        query = AdAccount.objects(tenant_id=who.tenant_id)
        after = decode_cursor(cursor, 1)
        if after:
            query = query.filter(meta_id__gt=after[0])
        found = list(query.order_by("meta_id").limit(limit + 1))
        data = [_account(account) for account in found[:limit]]
        more = encode_cursor([found[limit - 1].meta_id]) if len(found) > limit else None
        return Page[AccountOut](data=data, next_cursor=more)

    @router.get("/health", response_model=list[HealthOut])
    def health(who: Auth) -> list[HealthOut]:
        """Freshness and health of each of the tenant's ad accounts, per connection."""
        found = every_health(redis_client, keys, who.tenant_id)
        return [HealthOut(**h.as_dict()) for h in found]

    @router.get("/accounts/{account_id}/health", response_model=list[HealthOut])
    def account_health(
        who: Auth, account_id: Annotated[str, Path(pattern=r"^\d{1,20}$")]
    ) -> list[HealthOut]:
        """One ad account's freshness and health (one entry per connection that holds it)."""
        found = [
            HealthOut(**h.as_dict())
            for h in every_health(redis_client, keys, who.tenant_id, account_id=account_id)
        ]
        if not found:
            raise ApiProblem(404, f"account_id: no ad account {account_id} of this tenant")
        return found

    @router.get("/insights", response_model=Page[InsightOut])
    def insights(
        who: Auth,
        level: Literal["account", "campaign", "adset", "ad"],
        account_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
        entity_id: str | None = None,
        since: Day = None,
        until: Day = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[InsightOut]:
        """Daily rows of one level within since..until (inclusive), by account, entity, day."""
        check_day_range(since, until)
        filters: dict[str, Any] = {
            "tenant_id": who.tenant_id,
            "level": level,
            "breakdown_key": "",
            "attribution_key": "default",
        }
        asked = {
            "account_id": account_id,
            "entity_id": entity_id,
            "date__gte": since and since.isoformat(),
            "date__lte": until and until.isoformat(),
        }
        filters.update({name: value for name, value in asked.items() if value is not None})
        query = DailyInsight.objects(**filters)
        order = ("account_id", "entity_id", "date")  # the natural key's order: its index serves it
        after = decode_cursor(cursor, len(order))
        if after:
            query = query.filter(__raw__=after_key(order, after))
        found = list(query.order_by(*order).limit(limit + 1))
        last = found[limit - 1] if len(found) > limit else None
        more = encode_cursor([str(getattr(last, f)) for f in order]) if last is not None else None
        page = found[:limit]
        converter = reporting_converter(who.tenant_id, page, "date")
        return Page[InsightOut](data=[_insight(r, converter) for r in page], next_cursor=more)

    @router.get("/recommendations", response_model=Page[RecommendationOut])
    def recommendations(
        who: Auth,
        state: Literal[
            "proposed",
            "approved",
            "applied",
            "rejected",
            "expired",
            "undone",
            "superseded",
            "compensated",
            "failed",
            "restore_refused",
        ]
        | None = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[RecommendationOut]:
        """The optimizer's recommendations with their evidence, newest first."""
        query = Recommendation.objects(
            tenant_id=who.tenant_id, **({"state": state} if state else {})
        )
        after = decode_cursor(cursor, 1)
        if after:
            if not ObjectId.is_valid(after[0]):
                raise ApiProblem(400, "cursor: not a cursor this API gave")
            query = query.filter(pk__lt=ObjectId(after[0]))
        found = list(query.order_by("-id").limit(limit + 1))  # ids grow with time: newest first
        more = encode_cursor([str(found[limit - 1].pk)]) if len(found) > limit else None
        return Page[RecommendationOut](
            data=[_recommendation(r) for r in found[:limit]], next_cursor=more
        )

    writer: list[SyncContext] = []  # the Graph clients' context, built on the first apply

    @router.post(
        "/recommendations/{recommendation_id}/apply",
        response_model=RecommendationOut,
        responses={
            202: {"model": RecommendationOut},
            409: {"model": Problem},
            502: {"model": Problem},
        },
    )
    def apply(
        who: Annotated[Caller, scoped("optimize")], recommendation_id: str, response: Response
    ) -> RecommendationOut:
        """Write an approved recommendation to Meta now, within the guards, read back and
        audited; a ``failed`` one is tried again (the cause fixed), without a new evaluation.
        200: applied; 202: the account's daily cap holds it until the next UTC midnight; 403:
        Meta refused for lack of a permission (or the token was never granted
        ``ads_management``); 409: not applicable (its state, a change by someone else since the
        evidence, another attempt writing it); 502: Meta refused the write otherwise or kept
        failing, or refused to take a write back. The detail names the reason; the key needs the
        ``optimize`` scope."""
        if not writer:
            writer.append(SyncContext.from_settings(settings))
        try:
            rec = apply_recommendation(writer[0], who.tenant_id, recommendation_id, by=who.name)
        except UnknownRecommendation as exc:
            raise ApiProblem(404, f"recommendation_id: {exc}") from None
        except ApplyBusy as exc:
            wait = str(int(exc.retry_in + 0.999))
            raise ApiProblem(409, str(exc), {"Retry-After": wait}) from None
        except WriteNotPermitted as exc:
            raise ApiProblem(403, str(exc)) from None
        except RecommendationError as exc:
            raise ApiProblem(409, f"recommendation_id: {exc}") from None
        except MetaAPIError as exc:
            raise ApiProblem(502, f"Meta: {exc}") from None
        result = outcome(rec, via="api")
        if not result.ok:
            raise ApiProblem(result.status, result.line)
        response.status_code = result.status
        return _recommendation(rec)

    @router.post(
        "/recommendations/{recommendation_id}/{decision}",
        response_model=RecommendationOut,
        responses={409: {"model": Problem}},
    )
    def decide(
        who: Annotated[Caller, scoped("optimize")],
        recommendation_id: str,
        decision: Literal["approve", "reject"],
    ) -> RecommendationOut:
        """Approve or reject a proposed recommendation (recorded with the key that did); the key
        needs the ``optimize`` scope."""
        try:
            rec = decide_recommendation(
                who.tenant_id, recommendation_id, approve=decision == "approve", by=who.name
            )
        except RecommendationError as exc:
            status = 404 if isinstance(exc, UnknownRecommendation) else 409
            raise ApiProblem(status, f"recommendation_id: {exc}") from None
        return _recommendation(rec)

    refusals: dict[int | str, dict[str, Any]] = {409: {"model": Problem}, 503: {"model": Problem}}

    @router.post("/syncs", status_code=202, response_model=SyncAccepted, responses=refusals)
    def request(who: Annotated[Caller, scoped("sync")], body: SyncRequest) -> SyncAccepted:
        """Ask the workers for a sync of one of the tenant's connections (the key needs the
        ``sync`` scope). While one is pending for the connection, another answers 409."""
        connection = find_connection(body.connection_id, who.tenant_id)
        if connection is None:
            raise ApiProblem(
                404, f"connection_id: no connection {body.connection_id} of this tenant"
            )
        check_day_range(body.since, body.until)
        if body.kind == "entities" and (body.since or body.until):
            raise ApiProblem(400, "since: a date range is for performance syncs")
        if request_sync is None:
            raise ApiProblem(503, "no workers' broker is configured for this web app")
        kwargs: dict[str, Any] = {"kind": body.kind, "trigger": "api", "full": body.full or None}
        if body.since or body.until:
            kwargs["period"] = {
                "preset": None,
                "since": body.since and body.since.isoformat(),
                "until": body.until and body.until.isoformat(),
            }
        connection_id = str(connection.pk)
        waiting = pending.pending(connection_id)
        if waiting is not None or not pending.claim(connection_id):
            still = (
                f"connection_id: sync request {waiting or '(being queued)'} of this connection "
                f"is still pending; follow it at /api/v1/syncs/{waiting}"
            )
            raise ApiProblem(409, still)
        try:
            request_id = request_sync(connection_id, kwargs)
        except Exception:
            pending.release(connection_id)
            raise
        pending.queued(connection_id, request_id)
        details = {"request_id": request_id, **kwargs}
        OperatorAction(
            tenant_id=who.tenant_id,
            action="sync",
            target=str(connection.pk),
            by=who.name,
            details=details,
        ).save()
        return SyncAccepted(request_id=request_id)

    @router.get("/syncs/{request_id}", response_model=SyncStatus)
    def sync_status(who: Auth, request_id: str) -> SyncStatus:
        """A sync request's state: queued until a worker opens its run, then the run's."""
        run = SyncRun.objects(tenant_id=who.tenant_id, request_id=request_id).first()
        if run is None:
            syncs_asked = OperatorAction.objects(tenant_id=who.tenant_id, action="sync")
            asked = syncs_asked.filter(details__request_id=request_id).first()
            if asked is None:
                raise ApiProblem(404, f"request_id: no sync request {request_id} of this tenant")
            return SyncStatus(request_id=request_id, status="queued")
        return SyncStatus(
            request_id=request_id,
            status=run.status,
            run_id=str(run.pk),
            kind=run.kind,
            started_at=run.started_at,
            finished_at=run.finished_at,
            entities=dict(run.entities or {}),
            rows=dict(run.rows or {}),
            errors=list(run.errors or [])[:20],
        )

    add_report_routes(router)
    add_feature_routes(router)
    add_lead_routes(router, settings)
    add_entity_routes(router)
    return router
