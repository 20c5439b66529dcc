"""Everything one sandbox server holds: the world, tokens, budgets, faults, jobs and counters."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.feature_settings import FeatureSettings
from metasync.sandbox.jobs import ReportJobs
from metasync.sandbox.leads import LEAD_SCOPES
from metasync.sandbox.usage import Budgets, UsageTracker
from metasync.sandbox.versions import LIVE_VERSIONS, version_number
from metasync.sandbox.world import World

__all__ = ["Counters", "SandboxConfig", "SandboxState", "TokenRecord"]

_ACT = re.compile(r"act_\d+")
_ID = re.compile(r"(?<![A-Za-z_])\d{5,}")


SCOPES = frozenset({"ads_read", "ads_management", "business_management"})
DATA_ACCESS_DAYS = 90  # Meta's "data access expiration": 90 days after the user last granted it
ACTIVE_ADS_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class SandboxConfig:
    app_id: str = "100000000000001"
    app_secret: str | None = "sandbox-app-secret"  # noqa: S105 - fake; None: proofs unchecked
    api_versions: tuple[str, ...] = LIVE_VERSIONS  # served; any other answers (#2635)
    # The app's "Require App Secret" setting: every call must carry appsecret_proof. Clients
    # that never send one (Airbyte's connector, the Singer tap) can only read apps without it;
    # a proof that is sent is always checked.
    require_appsecret_proof: bool = True
    # When the app was created: apps from 2026-11-04 on cannot use the Graph API's legacy
    # features (multi-id reads, field aliases, ...; see legacy.py). A new app by default.
    app_created: date = date(2026, 12, 1)
    # The app's "Ads API Version Settings": with auto-upgrade on, a call to an expired version
    # is served by the next live one with X-Ad-Api-Version-Warning (versions.auto_upgrade). Off
    # by default, the stricter reading: an expired version answers (#2635).
    auto_upgrade_versions: bool = False

    @property
    def latest_version(self) -> str:
        return max(self.api_versions, key=lambda v: version_number(v) or (0,))


@dataclass
class TokenRecord:
    token: str
    user_id: str
    expires_at: datetime
    data_access_expires_at: datetime  # past it, even a valid token reads nothing (190)
    calls: int = 0
    scopes: frozenset[str] = SCOPES  # what the person granted; writes need ads_management
    page_id: str = ""  # a Page access token's page ("": a user token)


@dataclass
class Counters:
    """Request counters the benchmarks and tests read (``GET /_sandbox/counters``)."""

    total: int = 0
    graph_calls: int = 0  # calls charged (batch items one each, the batch envelope none)
    by_path: Counter[str] = field(default_factory=Counter)
    by_user: Counter[str] = field(default_factory=Counter)
    by_account: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_error_code: Counter[str] = field(default_factory=Counter)
    proof: Counter[str] = field(default_factory=Counter)  # valid | missing | invalid

    @staticmethod
    def normalize(method: str, path: str) -> str:
        return f"{method} /" + _ID.sub("{id}", _ACT.sub("act_{id}", path.strip("/")))

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "graph_calls": self.graph_calls,
            "by_path": dict(self.by_path),
            "by_user": dict(self.by_user),
            "by_account": dict(self.by_account),
            "by_status": dict(self.by_status),
            "by_error_code": dict(self.by_error_code),
            "proof": dict(self.proof),
        }


class SandboxState:
    def __init__(
        self,
        world: World,
        config: SandboxConfig,
        *,
        faults: FaultProfile | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.world = world
        self.config = config
        self.faults = faults or FaultProfile()
        self._active_ads: dict[str, int] = {}
        self._active_ads_at = -ACTIVE_ADS_REFRESH_SECONDS
        self.usage = self.new_usage(budgets or Budgets())
        self.jobs = ReportJobs(world.new_id)
        self.counters = Counters()
        self.tokens: dict[str, TokenRecord] = {
            user.token: TokenRecord(
                user.token,
                user.id,
                user.token_expires_at,
                world.now + timedelta(days=DATA_ACCESS_DAYS),
            )
            for user in world.users.values()
        }
        if world.leads.pages:  # a world with lead forms: its people granted reading leads
            for record in self.tokens.values():
                record.scopes = record.scopes | LEAD_SCOPES
            for page in world.leads.pages.values():  # Page access tokens never expire
                self.tokens[page["access_token"]] = TokenRecord(
                    page["access_token"],
                    page["_owner"],
                    world.now + timedelta(days=3650),
                    world.now + timedelta(days=DATA_ACCESS_DAYS),
                    page_id=page["id"],
                )
        self.app_subscriptions: dict[str, dict[str, Any]] = {}  # object -> subscription
        self.subscribed_apps: dict[str, list[str]] = {}  # account id -> app ids
        self.page_subscriptions: dict[str, dict[str, list[str]]] = {}  # page -> app -> fields
        self.webhooks_sent: list[dict[str, Any]] = []
        self.rows_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        # (account, day) -> async jobs that asked for reach with old breakdowns (10 a day)
        self.reach_jobs: dict[tuple[str, str], int] = {}
        # Which Ads Insights features each account has (Meta's "Feature Settings API"): the
        # one source of the opt-in breakdowns' answers; changed through that API, with
        # POST /_sandbox/opt-in (Ads Manager's opt-in) and /_sandbox/feature-settings/elapse.
        self.features = FeatureSettings.from_world(world, datetime.now(UTC))
        self.started = time.time()

    def new_usage(self, budgets: Budgets) -> UsageTracker:
        """A usage tracker counting afresh with ``budgets``, sized by this world's active ads."""
        return UsageTracker(budgets, active_ads=self.active_ads)

    def active_ads(self, account_id: str) -> int:
        """An account's ads whose effective status is ACTIVE, counted again at most every
        :data:`ACTIVE_ADS_REFRESH_SECONDS` (Meta's own count is not instantaneous either)."""
        now = time.monotonic()
        if now - self._active_ads_at >= ACTIVE_ADS_REFRESH_SECONDS:
            counts: dict[str, int] = {}
            for ad in self.world.ads.values():
                if ad.get("effective_status") == "ACTIVE":
                    counts[ad["account_id"]] = counts.get(ad["account_id"], 0) + 1
            self._active_ads, self._active_ads_at = counts, now
        return self._active_ads.get(account_id, 0)

    def issue_token(
        self, user_id: str, prefix: str, data_access_expires_at: datetime, days: int = 60
    ) -> TokenRecord:
        """A new token of ``user_id``. Exchanging a token does not extend data access: only the
        person granting the app again does (Meta's "Data Access Expiration")."""
        token = f"sbx-{prefix}-{user_id}-{len(self.tokens):04d}"
        record = TokenRecord(
            token, user_id, datetime.now(UTC) + timedelta(days=days), data_access_expires_at
        )
        self.tokens[token] = record
        return record

    def info(self, base_url: str) -> dict[str, Any]:
        """What a client needs to connect (all values are fake)."""
        return {
            "base_url": base_url,
            "api_version": self.config.latest_version,
            "api_versions": list(self.config.api_versions),
            "graph_url": f"{base_url}/{self.config.latest_version}",
            # the Feature Settings API's own host: META_ADS_API_URL (+ /<version>/marketing-api)
            "ads_api_url": f"{base_url}/ads-api",
            "app_id": self.config.app_id,
            "app_secret": self.config.app_secret,
            "seed": self.world.seed,
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "token": u.token,
                    "token_expires_at": self.tokens[u.token].expires_at.isoformat(),
                    "data_access_expires_at": (
                        self.tokens[u.token].data_access_expires_at.isoformat()
                    ),
                    "business_id": u.business_id,
                    "ad_account_ids": [f"act_{a}" for a in u.account_ids],
                    # accounts with every feature in effect (every opt-in breakdown answers)
                    "opted_in_account_ids": [
                        f"act_{a}"
                        for a in u.account_ids
                        if self.features.all_in_effect(a, datetime.now(UTC))
                    ],
                }
                for u in self.world.users.values()
            ],
        }
