"""``POST /{id}``: a campaign, ad set or ad changed through the Graph API, with Meta's checks.

What an optimizer writes: ``status`` (``ACTIVE``, ``PAUSED``, ``ARCHIVED``, ``DELETED``) and the
budgets (``daily_budget``, ``lifetime_budget``, in the account's minor units, as integers),
``bid_amount`` and ``name``. The checks follow Meta's documentation, and where it is silent the
stricter reading:

- the token must hold ``ads_management`` (``ads_read`` reads only): ``(#200)``;
- a parameter the object does not take, a status outside the four, a budget that is not a whole
  number of minor units, or one below the account's ``min_daily_budget``: ``(#100)`` naming it;
- a deleted object cannot be edited, an archived one can only be deleted (Meta's "Manage your ad
  object's status");
- a budget goes where the budget lives: an ad set of a campaign with a campaign budget takes no
  budget of its own, and a campaign without one takes none.

A write is charged to the account's ``ads_management`` budget like a read of the object, moves
``updated_time``, and is logged in the account's activities (through
:func:`metasync.sandbox.mutations.mutate`, which also cascades status to children as Meta does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from metasync.sandbox.errors import GraphError
from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.mutations import mutate
from metasync.sandbox.world import MIN_DAILY_BUDGET, World

__all__ = [
    "DELAY_KEY",
    "ENVELOPE_PARAMS",
    "MIN_DAILY_BUDGET",
    "WRITABLE",
    "min_daily_budget",
    "write",
    "write_with_faults",
]

DELAY_KEY = "__delay_seconds__"  # in a write's answer: delay it by this (a planned slow write)

WRITABLE = {
    "campaign": frozenset({"status", "name", "daily_budget", "lifetime_budget"}),
    "adset": frozenset({"status", "name", "daily_budget", "lifetime_budget", "bid_amount"}),
    "ad": frozenset({"status", "name"}),
}
ENVELOPE_PARAMS = frozenset(
    {
        "access_token",
        "appsecret_proof",
        "fields",
        "method",
        "format",
        "pretty",
        "suppress_http_code",
    }
)
STATUS_ACTIONS = {
    "ACTIVE": "activate",
    "PAUSED": "pause",
    "ARCHIVED": "archive",
    "DELETED": "delete",
}
BUDGETS = ("daily_budget", "lifetime_budget")
SCOPE = "ads_management"


def min_daily_budget(currency: str) -> int:
    """The account's smallest daily budget, in its currency's minor units."""
    return MIN_DAILY_BUDGET.get(currency, 100)


def _invalid(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}", error_type="OAuthException")


def _whole_minor_units(name: str, value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise _invalid(f"Param {name} must be a whole number of the account's minor units")
    return int(text)


def _check_budget(world: World, kind: str, obj: dict[str, Any], name: str, amount: int) -> None:
    if kind == "adset":
        campaign = world.campaigns.get(obj["campaign_id"], {})
        if any(campaign.get(b) for b in BUDGETS):
            raise _invalid(
                f"Param {name}: the budget of this ad set lives on its campaign "
                f"{obj['campaign_id']} (campaign budget); change the campaign's budget"
            )
    elif not any(obj.get(b) for b in BUDGETS):
        raise _invalid(
            f"Param {name}: campaign {obj['id']} has no campaign budget; its ad sets hold them"
        )
    currency = world.accounts[obj["account_id"]]["currency"]
    minimum = min_daily_budget(currency)
    if name == "daily_budget" and amount < minimum:
        raise _invalid(
            f"Param daily_budget: {amount} is below the account's minimum daily budget of "
            f"{minimum} ({currency} minor units)"
        )


# Marketing API out-of-cycle changes 2026, "Advantage+ shopping and app campaigns": from
# 2026-05-19 the legacy ASC and AAC campaigns cannot be created, duplicated or updated through
# the API on any version; the new Advantage+ sales and app campaigns replace them.
LEGACY_ADVANTAGE = ("AUTOMATED_SHOPPING_ADS", "SMART_APP_PROMOTION")


def _check_not_legacy_advantage(world: World, kind: str, obj: dict[str, Any]) -> None:
    campaign = obj if kind == "campaign" else world.campaigns.get(obj.get("campaign_id", ""))
    if campaign is not None and campaign.get("smart_promotion_type") in LEGACY_ADVANTAGE:
        raise _invalid(
            "Updates to legacy Advantage+ shopping and app campaigns are no longer supported "
            f"(campaign {campaign['id']} is {campaign['smart_promotion_type']}): use "
            "Advantage+ sales or app campaigns"
        )


def _check_status(obj: dict[str, Any], status: str) -> None:
    if status not in STATUS_ACTIONS:
        raise _invalid(f"Param status must be one of {', '.join(STATUS_ACTIONS)}, not {status!r}")
    if obj["status"] == "ARCHIVED" and status not in ("ARCHIVED", "DELETED"):
        raise _invalid(f"Object {obj['id']} is archived: it can only be deleted")


def write(
    world: World,
    scopes: frozenset[str],
    kind: str,
    obj: dict[str, Any],
    params: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check and apply a ``POST /{id}``; returns Meta's ``{"success": true}``."""
    if SCOPE not in scopes:
        raise GraphError(
            403, 200, f"(#200) Requires {SCOPE} permission to manage the object", error_type=""
        )
    allowed = WRITABLE.get(kind)
    if allowed is None:
        raise _invalid(f"Unsupported post request: a {kind} cannot be changed here")
    changes = {k: v for k, v in params.items() if k not in ENVELOPE_PARAMS}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise _invalid(f"Param {unknown[0]} is not a field a {kind} takes in a write")
    if not changes:
        raise _invalid("The write names no field to change")
    if obj["status"] == "DELETED":
        raise _invalid(f"Object {obj['id']} is deleted and cannot be edited")
    _check_not_legacy_advantage(world, kind, obj)
    status = changes.pop("status", None)
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        if name in BUDGETS or name == "bid_amount":
            amount = _whole_minor_units(name, value)
            if name in BUDGETS:
                _check_budget(world, kind, obj, name, amount)
            updates[name] = str(amount)
        else:
            updates[name] = str(value)
    if status is not None:
        _check_status(obj, str(status))
    stamp = now or datetime.now(UTC)
    if updates:
        mutate(world, obj["id"], "update", updates, now=stamp)
    if status is not None and status != obj["status"]:
        mutate(world, obj["id"], STATUS_ACTIONS[str(status)], now=stamp)
    return {"success": True}


def write_with_faults(
    world: World,
    faults: FaultProfile,
    scopes: frozenset[str],
    kind: str,
    obj: dict[str, Any],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """:func:`write`, with the write faults planned for the object (``write_faults``): a 500 or
    a refusal before anything is written (an invalid parameter; a permission the token's
    person lacks on this object, as when their role on the ad account cannot edit), a lost
    answer after it, or a late answer."""
    fault = faults.take_write_fault(obj["id"]) or {}
    what = fault.get("kind")
    if what == "error":
        raise GraphError(500, 1, "An unknown error occurred", is_transient=True)
    if what == "invalid":
        raise GraphError(400, 100, "Invalid parameter", error_type="OAuthException")
    if what == "permission":
        raise GraphError(403, 200, f"(#200) Requires {SCOPE} permission to manage the object")
    written = write(world, scopes, kind, obj, params)
    if what == "lost":
        raise GraphError(500, 1, "An unknown error occurred", is_transient=True)
    if what == "slow":  # written at once, answered after ms
        return {**written, DELAY_KEY: float(fault.get("ms", 3000)) / 1000}
    return written
