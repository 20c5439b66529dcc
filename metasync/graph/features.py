"""A client for Meta's Feature Settings API (Meta's page "Feature Settings API", 2026-08-07).

The API lives on its own host, not the Graph API's: ``META_ADS_API_URL`` (default
``https://ads-api.facebook.com``) + ``/<META_API_VERSION>/marketing-api``. With ``ads_read`` on
the account it lists the features the account can enable with their status
(``GET act_<id>/insights/feature-settings/list-features``), the enabled ones with the
``insights_effective_date`` from which the Insights API answers them
(``GET act_<id>/insights/feature-settings``), and enables one (``POST`` the latter with
``feature_name``; up to 24 hours to take effect; no way to disable it).

The token goes in ``Authorization: Bearer`` as the page's samples send it, never in the URL;
``appsecret_proof`` is sent as on every Graph call (an app that requires it requires it here
too, the stricter reading). Errors are Meta's Graph-shaped ones, mapped onto
:mod:`metasync.graph.errors`. Where the page names no status field the state is read from
``feature-settings``: listed with an effective date in the past is ``enabled``, listed
otherwise ``pending``, not listed ``not_enabled``; a ``status`` in ``list-features`` (the
sandbox sends one) is only used for features ``feature-settings`` does not list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from metasync.graph.client import appsecret_proof, process_session
from metasync.graph.errors import MetaAPIError, TransientError, error_from_response

__all__ = ["FeatureSettingsClient", "FeatureState"]

_STATUS = {"ENABLED": "enabled", "PENDING": "pending", "NOT_ENABLED": "not_enabled"}


@dataclass(frozen=True)
class FeatureState:
    name: str
    status: str  # enabled | pending | not_enabled (metasync.models.FeatureStatus)
    effective_at: datetime | None = None  # Meta's insights_effective_date, UTC


def parse_meta_time(value: Any) -> datetime | None:
    """Meta's ``2026-12-09T01:00:00+0000`` (or a bare date) as an aware UTC datetime."""
    if not value:
        return None
    text = str(value)
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)
    return None


class FeatureSettingsClient:
    """Feature Settings API calls with one access token. ``base_url`` is the whole base
    (``https://ads-api.facebook.com/v26.0/marketing-api``); timeouts in seconds."""

    def __init__(
        self,
        access_token: str,
        base_url: str,
        app_secret: str,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
    ) -> None:
        self._token = access_token
        self._base_url = base_url.rstrip("/")
        self._proof = appsecret_proof(app_secret, access_token) if app_secret else None
        self._timeout = timeout

    def _call(self, method: str, account_id: str, tail: str, **params: str) -> Any:
        url = f"{self._base_url}/act_{account_id}/insights/feature-settings{tail}"
        if self._proof:
            params["appsecret_proof"] = self._proof
        try:
            response = process_session().request(
                method,
                url,
                params=params if method == "GET" else None,
                data=params if method != "GET" else None,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"the Feature Settings API did not answer: {type(exc).__name__}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or "error" in body:
            raise error_from_response(response.status_code, body, response.headers)
        return body

    def states(self, account_id: str, now: datetime) -> list[FeatureState]:
        """Every feature the account can enable, with its status at ``now`` (two calls)."""
        listed = self._call("GET", account_id, "/list-features").get("data") or []
        enabled = {
            str(item["feature_name"]): parse_meta_time(item.get("insights_effective_date"))
            for item in self._call("GET", account_id, "").get("data") or []
            if item.get("feature_name")
        }
        names = [str(item["feature_name"]) for item in listed if item.get("feature_name")]
        states = []
        for name in dict.fromkeys([*names, *enabled]):
            if name in enabled:
                effective = enabled[name]
                status = "enabled" if effective is not None and effective <= now else "pending"
                states.append(FeatureState(name, status, effective))
                continue
            item = next(i for i in listed if i.get("feature_name") == name)
            status = _STATUS.get(str(item.get("status") or "").upper(), "not_enabled")
            # listed as enabled but absent from feature-settings: pending, the stricter reading
            states.append(FeatureState(name, "pending" if status == "enabled" else status))
        return states

    def enable(self, account_id: str, feature: str) -> None:
        """Enable ``feature`` for the account; Meta allows up to 24 hours; it cannot be undone."""
        body = self._call("POST", account_id, "", feature_name=feature)
        if body.get("success") is False:
            raise MetaAPIError(f"Meta did not enable {feature} for act_{account_id}")
