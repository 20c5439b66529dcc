"""Who may write a recommendation to Meta now: the connection and token that may, a lease that
expires, and the ad account's daily cap, taken atomically.

- **Leases** (``claimed_at`` + ``claim`` on the recommendation): two attempts never write at
  once, and a worker killed mid-way leaves a lease that expires after
  ``OPTIMIZER_LEASE_SECONDS`` (longer than the task's time limit), after which the recovery
  (:func:`stale_applies`, from beat) or a redelivery takes it over. Only the attempt holding a
  lease can give it back.
- **The daily cap** (:class:`~metasync.models.ActionCount`): ``count < cap`` and ``$inc`` in one
  update, so concurrent applies never pass it together; a retry keeps its slot.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from metasync.graph import GraphClient
from metasync.models import ActionCount, MetaConnection, Recommendation, aware, utcnow
from metasync.models.connection import ConnectionStatus
from metasync.optimize.settings import RecommendationError
from metasync.sync.context import SyncContext

__all__ = [
    "ApplyBusy",
    "WriteNotPermitted",
    "release",
    "release_quietly",
    "stale_applies",
    "take_action_slot",
    "take_lease",
    "writer_for",
]


class ApplyBusy(RecommendationError):
    """Another attempt holds the recommendation's lease; try again in ``retry_in`` seconds."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class WriteNotPermitted(RecommendationError):
    """The tenant's connection may not change the account (by its token's last known grants):
    nothing is tried until the permission is granted."""


def writer_for(ctx: SyncContext, rec: Recommendation) -> GraphClient:
    """A client of the tenant's connection that holds the account and may change it."""
    connection = MetaConnection.objects(
        tenant_id=rec.tenant_id, ad_account_ids=rec.account_id, status=ConnectionStatus.ACTIVE
    ).first()
    if connection is None:
        raise RecommendationError(
            f"no active connection of tenant {rec.tenant_id} holds ad account {rec.account_id}"
        )
    if "ads_management" not in (connection.token_scopes or []):
        raise WriteNotPermitted(
            f"the token of connection {connection.name or connection.pk} was not granted "
            "ads_management: metasync can read this account but not change it; grant the "
            "permission and add the token again"
        )
    return ctx.client_for(connection)


def take_lease(rec: Recommendation, state: str, lease_seconds: int) -> str:
    """A new lease on ``rec`` (in ``state``) when none is held or the one held expired."""
    claim = secrets.token_hex(8)
    now = utcnow()
    free = Q(claimed_at=None) | Q(claimed_at__lt=now - timedelta(seconds=lease_seconds))
    taken = Recommendation.objects(Q(pk=rec.pk) & Q(state=state) & free).update_one(
        set__claimed_at=now, set__claim=claim
    )
    if not taken:
        held = aware(Recommendation.objects(pk=rec.pk).only("claimed_at").first().claimed_at)
        wait = lease_seconds - (now - held).total_seconds() if held is not None else 1.0
        raise ApplyBusy(
            f"recommendation {rec.pk} is being written by another attempt", max(1.0, wait)
        )
    return claim


def release(rec: Recommendation, claim: str, **updates: Any) -> None:
    """Give the lease back (only the attempt that holds it can), with ``updates``."""
    Recommendation.objects(pk=rec.pk, claim=claim).update_one(
        unset__claimed_at=True, unset__claim=True, **updates
    )


def stale_applies(lease_seconds: int) -> list[Recommendation]:
    """Approved recommendations to take over: an expired lease (its worker died), a plan begun
    and no lease (its task stopped mid-way, e.g. at a time limit), or one the daily cap held
    whose new day has come. An undo stopped mid-way is resumed by running the undo again (its
    lease expires likewise). A ``failed`` apply and a ``restore_refused`` take-back are never
    taken over: Meta refused them, and only an operator who fixed the cause sends them again."""
    now = utcnow()
    expired = now - timedelta(seconds=lease_seconds)
    stopped = Q(claimed_at=None) & Q(plan__0__exists=True)
    due = Q(claimed_at=None) & Q(waiting_until__lte=now)  # the daily cap's new day
    return list(
        Recommendation.objects(
            Q(state="approved") & (Q(claimed_at__lt=expired) | stopped | due)
        ).only("tenant_id")
    )


def release_quietly(rec: Recommendation, claim: str, error: str) -> None:
    try:
        release(rec, claim, set__error=error[:500])
    except Exception:  # noqa: BLE001 - the store is away: the lease expires by itself
        return


def take_action_slot(rec: Recommendation, cap: int) -> bool:
    """Count ``rec`` among its account's actions today, atomically within ``cap``; a
    recommendation already counted (a retry) keeps its slot."""
    key = {
        "tenant_id": rec.tenant_id,
        "account_id": rec.account_id,
        "day": datetime.now(UTC).date().isoformat(),
    }
    with contextlib.suppress(NotUniqueError):  # a concurrent apply made it first
        ActionCount.objects(**key).update_one(upsert=True, set_on_insert__count=0)
    ident = str(rec.pk)
    taken = ActionCount.objects(**key, count__lt=cap, recommendations__ne=ident).update_one(
        inc__count=1, push__recommendations=ident
    )
    return bool(taken) or ActionCount.objects(**key, recommendations=ident).count() > 0
