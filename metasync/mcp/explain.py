"""Explain a change: split the change in spend, or in cost per result, between two periods by
campaign, ad set or ad and by factor, with every figure used.

The split is exact (the parts add up to the change, up to the rounding of the figures shown):

- **By entity, spend**: each entity's own change, ``S1 - S0``.
- **By entity, cost per result** (``CPR = S / R``, results = conversions): entity ``e`` adds
  ``((S1_e - S0_e) - CPR0 * (R1_e - R0_e)) / R1``: the spend it added beyond what its added
  results would have cost at the old cost per result. These add up to ``CPR1 - CPR0``.
- **By factor** (log-mean Divisia, LMDI: no residual): spend = impressions x CPM / 1000, so
  its change splits into volume (impressions) and the price of impressions (CPM); cost per
  result = CPM / (1000 x CTR x CVR), so its change splits into the price of impressions, the
  click-through rate (clicks / impressions) and the conversion rate (results / clicks); a
  rate that rose lowers the cost (a negative part). Each part is ``L(x1, x0) * ln(f1 / f0)``
  with ``L`` the log mean of the metric's two values. A factor that is zero or missing in a
  period (no clicks, no results) makes its logarithm undefined: the split by factor is then
  left out, saying why, and the split by entity still holds where it can.

The figures are sums of the tenant's daily rows (``daily_insights``, no breakdown, the default
attribution) of the account's entities at that level, in the account's currency; the days are
the account's. :func:`split` is a pure function of those sums, so it is tested on plain data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from metasync.mcp.access import Access
from metasync.mcp.bounds import MAX_ROWS, check_days, money
from metasync.mcp.reads import KINDS, READ_ONLY, AccountId
from metasync.models import AdAccount, DailyInsight, as_decimal

__all__ = ["Figures", "register_explain", "split"]

Metric = Literal["spend", "cost_per_result"]


@dataclass(frozen=True)
class Figures:
    """One entity's sums over one period (money in the account's currency, major units)."""

    spend: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    results: Decimal = Decimal(0)
    rows: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.spend + other.spend,
            self.impressions + other.impressions,
            self.clicks + other.clicks,
            self.results + other.results,
            self.rows + other.rows,
        )

    def rates(self) -> dict[str, float | None]:
        """CPM (per 1,000 impressions), CTR, CVR and cost per result; None where undefined."""
        spend = float(self.spend)
        return {
            "cpm": spend * 1000 / self.impressions if self.impressions else None,
            "ctr": self.clicks / self.impressions if self.impressions else None,
            "cvr": float(self.results) / self.clicks if self.clicks else None,
            "cost_per_result": spend / float(self.results) if self.results else None,
        }

    def shown(self) -> dict[str, Any]:
        rates = self.rates()
        return {
            "spend": str(self.spend),
            "impressions": self.impressions,
            "clicks": self.clicks,
            "results": str(self.results),
            "rows": self.rows,
            "cpm": money(rates["cpm"], "0.0001"),
            "ctr": money(rates["ctr"], "0.000001"),
            "cvr": money(rates["cvr"], "0.000001"),
            "cost_per_result": money(rates["cost_per_result"], "0.0001"),
        }


def _log_mean(new: float, old: float) -> float:
    return new if math.isclose(new, old) else (new - old) / math.log(new / old)


def _value(figures: Figures, metric: Metric) -> float | None:
    return float(figures.spend) if metric == "spend" else figures.rates()["cost_per_result"]


def _by_factor(
    metric: Metric, before: Figures, after: Figures
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The parts of the change by factor, or None and why they are undefined."""
    old, new = before.rates(), after.rates()
    names = ["cpm", "impressions"] if metric == "spend" else ["cpm", "ctr", "cvr"]
    values = {
        "impressions": (float(before.impressions), float(after.impressions)),
        **{name: (old[name], new[name]) for name in ("cpm", "ctr", "cvr")},
    }
    first, second = _value(before, metric), _value(after, metric)
    missing = [n for n in names if not (values[n][0] and values[n][1])]
    if first is None or second is None or not first or not second or missing:
        return None, (
            f"{', '.join(missing) or metric} is zero or undefined in a period (no impressions, "
            "clicks or results): its logarithm is undefined, so no split by factor"
        )
    weight = _log_mean(second, first)
    parts = []
    label = {
        "cpm": "price of impressions (CPM)",
        "impressions": "impressions (volume)",
        "ctr": "click-through rate",
        "cvr": "conversion rate",
    }
    for name in names:
        was, now = values[name]
        sign = -1 if name in ("ctr", "cvr") else 1  # a higher rate lowers the cost per result
        assert was is not None and now is not None  # checked above: no factor is missing
        parts.append(
            {
                "factor": label[name],
                "before": money(was, "0.000001"),
                "after": money(now, "0.000001"),
                "contribution": money(sign * weight * math.log(now / was), "0.0001"),
            }
        )
    return parts, None


def _entity_part(
    metric: Metric, before: Figures, after: Figures, total_before: Figures, total_after: Figures
) -> float | None:
    if metric == "spend":
        return float(after.spend - before.spend)
    old_cost = total_before.rates()["cost_per_result"]
    if old_cost is None or not total_after.results:
        return None
    added = float(after.spend - before.spend) - old_cost * float(after.results - before.results)
    return added / float(total_after.results)


def split(
    metric: Metric,
    before: dict[str, Figures],
    after: dict[str, Figures],
    top: int = 20,
) -> dict[str, Any]:
    """The change of ``metric`` from the ``before`` sums to the ``after`` sums (entity id ->
    :class:`Figures`), split by entity (the ``top`` largest parts, the rest summed) and by
    factor (see the module)."""
    total_before = sum(before.values(), Figures())
    total_after = sum(after.values(), Figures())
    first, second = _value(total_before, metric), _value(total_after, metric)
    entities = sorted(set(before) | set(after))
    parts = {
        entity: _entity_part(
            metric,
            before.get(entity, Figures()),
            after.get(entity, Figures()),
            total_before,
            total_after,
        )
        for entity in entities
    }
    ranked = sorted(entities, key=lambda entity: -abs(parts[entity] or 0.0))
    shown = [
        {
            "entity_id": entity,
            "contribution": money(parts[entity], "0.0001"),
            "before": before.get(entity, Figures()).shown(),
            "after": after.get(entity, Figures()).shown(),
        }
        for entity in ranked[:top]
    ]
    rest = [parts[entity] or 0.0 for entity in ranked[top:]]
    factors, note = _by_factor(metric, total_before, total_after)
    difference = None if first is None or second is None else second - first
    return {
        "metric": metric,
        "before": {**total_before.shown(), "value": money(first, "0.0001")},
        "after": {**total_after.shown(), "value": money(second, "0.0001")},
        "difference": money(difference, "0.0001"),
        "by_entity": shown,
        "by_entity_note": None
        if difference is not None
        else ("the cost per result is undefined in a period without results: no split by entity"),
        "others": {
            "entities": len(rest),
            "contribution": money(sum(rest), "0.0001"),
        },
        "by_factor": factors,
        "by_factor_note": note,
    }


def _sums(
    tenant_id: str, account_id: str, level: str, since: date, until: date
) -> dict[str, Figures]:
    pipeline = [
        {
            "$match": {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "level": level,
                "breakdown_key": "",
                "attribution_key": "default",
                "date": {"$gte": since.isoformat(), "$lte": until.isoformat()},
            }
        },
        {
            "$group": {
                "_id": "$entity_id",
                "spend": {"$sum": "$spend"},
                "impressions": {"$sum": "$impressions"},
                "clicks": {"$sum": "$clicks"},
                "results": {"$sum": "$conversions"},
                "rows": {"$sum": 1},
            }
        },
    ]
    return {
        row["_id"]: Figures(
            as_decimal(row["spend"]) or Decimal(0),
            int(row["impressions"] or 0),
            int(row["clicks"] or 0),
            as_decimal(row["results"]) or Decimal(0),
            int(row["rows"]),
        )
        for row in DailyInsight.objects.aggregate(pipeline)
    }


def register_explain(server: MCPServer, access: Access) -> None:
    """Register ``explain_change`` on ``server``."""

    @server.tool(annotations=READ_ONLY)
    def explain_change(
        ctx: Context,
        account_id: AccountId,
        metric: Metric,
        level: Literal["campaign", "adset", "ad"],
        before_since: date,
        before_until: date,
        after_since: date,
        after_until: date,
        top: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 20,
    ) -> dict[str, Any]:
        """Why spend or cost per result (spend / conversions) changed in one ad account
        between two periods (account days, inclusive): the change split by campaign, ad set
        or ad (the top largest parts; the rest summed) and by factor (price of impressions
        (CPM), volume, click-through rate, conversion rate), with the sums each part was
        computed from. The parts add up to the change; money in the account's currency."""
        who = access.caller(ctx)
        check_days(before_since, before_until, "before_since")
        check_days(after_since, after_until, "after_since")
        account = AdAccount.objects(tenant_id=who.tenant_id, account_id=account_id).first()
        if account is None:
            raise ToolError(f"account_id: no ad account {account_id} of this tenant")
        before = _sums(who.tenant_id, account_id, level, before_since, before_until)
        after = _sums(who.tenant_id, account_id, level, after_since, after_until)
        result = split(metric, before, after, top)
        ids = [p["entity_id"] for p in result["by_entity"]]
        names = {
            d.meta_id: d.name
            for d in KINDS[level]
            .objects(tenant_id=who.tenant_id, meta_id__in=ids)
            .only("meta_id", "name")
        }
        for part in result["by_entity"]:
            part["name"] = names.get(part["entity_id"])
        periods = {
            "before": [before_since.isoformat(), before_until.isoformat()],
            "after": [after_since.isoformat(), after_until.isoformat()],
        }
        return {
            "account_id": account_id,
            "currency": account.currency,
            "level": level,
            "periods": periods,
            **result,
            "source": {
                "collection": "daily_insights",
                "rows": f"level={level}, account_id={account_id}, no breakdown, default "
                "attribution, the days of each period",
                "method": "by entity: own change; by factor: log-mean Divisia (exact sum)",
            },
        }
