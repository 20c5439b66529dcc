"""Meta's Feature Settings API, on its own host: which Ads Insights features an ad account has.

Source: Meta's page "Feature Settings API" (Marketing API, Insights; updated 2026-08-07,
https://developers.facebook.com/documentation/ads-commerce/marketing-api/insights/feature-settings).
Some Ads Insights breakdowns "return data only after an ad account enables them"; the API lists
the features an account can enable, their status, and enables one. "Allow up to 24 hours for
the change to take effect"; "the API does not support disabling a feature". Base URL
``https://ads-api.facebook.com/<version>/marketing-api`` (not the Graph API's host); every
endpoint needs a token with ``ads_read`` on the account. Four breakdown features (a ``metric``
type is reserved for later):

- ``comscore``: ``comscore_market``, ``comscore_market_code`` and combinations with them;
- ``frequency_value``; ``impression_device`` (and combinations);
- ``time_of_day_viewer_tz``: ``hourly_stats_aggregated_by_audience_time_zone``.

Endpoints (under the base URL): ``GET act_<id>/insights/feature-settings/list-features``,
``GET act_<id>/insights/feature-settings[?feature_name=]`` (the enabled features, each with
its ``insights_effective_date``) and ``POST act_<id>/insights/feature-settings`` with
``feature_name``.

Where the page is silent the sandbox takes the stricter reading (each decision is named here
so a client cannot rely on a lenient one):

- answers are Graph-shaped (``{"data": [...]}``; errors ``{"error": {...}}``) and the app's
  ``appsecret_proof`` rule applies as on the Graph API;
- ``list-features`` lists every feature the account can enable, each with ``status``
  ``ENABLED`` (in effect), ``PENDING`` (enabled, not yet in effect) or ``NOT_ENABLED``;
- ``feature-settings`` lists enabled features only (pending ones too), with
  ``insights_effective_date`` (ISO 8601, UTC): the moment from which the Insights API answers
  the feature's breakdowns. Until then they are withheld for the whole request, every day
  alike (an empty listing, no error: the 2026-08-03 change's "may return no results");
- a feature takes effect the full 24 hours after it is enabled (the longest the page allows);
- enabling an enabled (or pending) feature is answered as success and changes nothing (the
  date is not moved); an unknown feature name is refused with (#100); disabling does not
  exist (no DELETE route: the path is unknown, (#2500));
- a token without ``ads_read`` gets (#200); an account the token's user cannot reach (#100,
  subcode 33), as on the Graph API.

The 24 hours run on the sandbox's wall clock; tests move them with
``POST /_sandbox/feature-settings/elapse`` (``{"hours": 24}``), which moves every enabling
request back in time: both clocks (sandbox and client) then agree on what has taken effect.
Which accounts start with which features is the world's choice (:meth:`FeatureSettings.from_world`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from metasync.sandbox.breakdown_rules import FEATURE_BREAKDOWNS
from metasync.sandbox.errors import GraphError, not_found
from metasync.sandbox.world import World

__all__ = ["EFFECT_DELAY", "FEATURE_TYPES", "FeatureSettings", "handle_feature_settings"]

EFFECT_DELAY = timedelta(hours=24)  # "Allow up to 24 hours": the sandbox always takes all 24
FEATURE_TYPES = dict.fromkeys(FEATURE_BREAKDOWNS, "breakdown")
_FEATURE_OF = {name: feature for feature, names in FEATURE_BREAKDOWNS.items() for name in names}


def _meta_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FeatureSettings:
    """account id -> feature -> when it was enabled (in effect :data:`EFFECT_DELAY` later)."""

    enabled_at: dict[str, dict[str, datetime]] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World, now: datetime) -> FeatureSettings:
        """Every state exists in any world: each user's second (and every other) account has
        every feature in effect since long ago; each user's first account has
        ``time_of_day_viewer_tz`` pending (enabled an hour ago) and nothing else."""
        settings = cls()
        for user in world.users.values():
            for position, account_id in enumerate(user.account_ids):
                if position % 2 == 1:
                    since = now - timedelta(days=400)
                    settings.enabled_at[account_id] = dict.fromkeys(FEATURE_BREAKDOWNS, since)
                elif position == 0:
                    settings.enabled_at[account_id] = {
                        "time_of_day_viewer_tz": now - timedelta(hours=1)
                    }
        return settings

    def status(self, account_id: str, feature: str, now: datetime) -> str:
        enabled = self.enabled_at.get(account_id, {}).get(feature)
        if enabled is None:
            return "NOT_ENABLED"
        return "ENABLED" if enabled + EFFECT_DELAY <= now else "PENDING"

    def all_in_effect(self, account_id: str, now: datetime) -> bool:
        return all(self.status(account_id, f, now) == "ENABLED" for f in FEATURE_BREAKDOWNS)

    def withheld(self, account_id: str, breakdowns: Iterable[str], now: datetime) -> bool:
        """Whether a read with ``breakdowns`` needs a feature not in effect for the account."""
        needed = {_FEATURE_OF[name] for name in breakdowns if name in _FEATURE_OF}
        return any(self.status(account_id, feature, now) != "ENABLED" for feature in needed)

    def enable(self, account_id: str, feature: str, now: datetime) -> None:
        """Enable (never re-date) a feature; there is no way back."""
        self.enabled_at.setdefault(account_id, {}).setdefault(feature, now)

    def enable_all_now(self, account_id: str, now: datetime) -> None:
        """The advertiser's opt-in in Ads Manager, as the ``/_sandbox/opt-in`` lever: every
        feature in effect at once (the control API's shortcut, not Meta's delay)."""
        self.enabled_at[account_id] = dict.fromkeys(FEATURE_BREAKDOWNS, now - EFFECT_DELAY)

    def elapse(self, hours: float) -> None:
        """Let ``hours`` pass for every enabling request (the tests' clock lever)."""
        for features in self.enabled_at.values():
            for feature in features:
                features[feature] -= timedelta(hours=hours)


def handle_feature_settings(
    settings: FeatureSettings,
    method: str,
    path: str,
    params: Mapping[str, Any],
    reachable_accounts: Iterable[str],
    scopes: frozenset[str],
    now: datetime,
) -> dict[str, Any]:
    """One Feature Settings API call (``path`` after ``/<version>/marketing-api/``), for a
    token already authenticated: its user reaches ``reachable_accounts`` with ``scopes``."""
    parts = path.strip("/").split("/")
    if (
        len(parts) < 3
        or not parts[0].startswith("act_")
        or parts[1:3]
        != [
            "insights",
            "feature-settings",
        ]
    ):
        raise GraphError(400, 2500, f"Unknown path components: /{path.strip('/')}")
    listing = parts[3:] == ["list-features"]
    if parts[3:] not in ([], ["list-features"]) or (listing and method != "GET"):
        raise GraphError(400, 2500, f"Unknown path components: /{path.strip('/')}")
    if method not in ("GET", "POST"):
        raise GraphError(400, 2500, f"Unknown path components: /{path.strip('/')}")
    account_id = parts[0].removeprefix("act_")
    if "ads_read" not in scopes and "ads_management" not in scopes:
        raise GraphError(
            403, 200, "(#200) The ads_read permission is required to read this ad account"
        )
    if account_id not in set(reachable_accounts):
        raise not_found(parts[0])
    if listing:
        return {
            "data": [
                {
                    "feature_name": feature,
                    "feature_type": kind,
                    "status": settings.status(account_id, feature, now),
                }
                for feature, kind in FEATURE_TYPES.items()
            ]
        }
    name = params.get("feature_name")
    if name is not None and name not in FEATURE_TYPES:
        raise GraphError(
            400,
            100,
            f"(#100) Param feature_name must be one of {{{', '.join(FEATURE_TYPES)}}}",
            error_type="GraphMethodException",
        )
    if method == "POST":
        if name is None:
            raise GraphError(400, 100, "(#100) The parameter feature_name is required")
        settings.enable(account_id, str(name), now)
        return {"success": True}
    enabled = settings.enabled_at.get(account_id, {})
    return {
        "data": [
            {
                "feature_name": feature,
                "feature_type": FEATURE_TYPES[feature],
                "insights_effective_date": _meta_time(at + EFFECT_DELAY),
            }
            for feature, at in sorted(enabled.items())
            if name is None or feature == name
        ]
    }
