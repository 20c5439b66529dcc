"""Why an account is flagged and what a person does about it, in plain words: what the
notifier's messages (:mod:`metasync.alerts`) and the console's open alerts say beside the flag.

A pure function of the account's health (:class:`~metasync.health.compute.AccountHealth`: its
connection's status, its state, its last error, its newest day, its token's and data access's
ends); no I/O, so the same words come out wherever the health was read.
"""

from __future__ import annotations

from datetime import datetime

from metasync.health.compute import LAGGING_SECONDS, AccountHealth
from metasync.models import AccountState, ConnectionStatus

__all__ = ["LEADS_NOT_GRANTED_FIX", "LEADS_NOT_GRANTED_WHY", "flag_reason"]

#: Why Meta refuses a Facebook Page's leads, and what an operator does about it (the alerts,
#: the console's Lead Ads page); ``TENANT`` stands for the page's tenant.
LEADS_NOT_GRANTED_WHY = (
    "Meta refuses to give this page's leads: the person who connected has not granted the "
    "leads_retrieval permission (or pages_manage_ads), or has no role on the page that may "
    "read leads"
)
LEADS_NOT_GRANTED_FIX = (
    "the person who connected grants leads_retrieval and pages_manage_ads (and has a role "
    "on the page that may read leads): connect again with the new token (metasync "
    "connections add --tenant TENANT), then run metasync leads sync; the page reads as "
    "granted, and the alert clears, at the next lead sync"
)


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "an unknown time"


def _lagging(h: AccountHealth) -> tuple[str, str]:
    newest = h.newest_day or "no day yet"
    why = (
        f"its newest complete day mirrored is {newest}, more than {LAGGING_SECONDS // 3600} "
        "hours ago in its time zone"
    )
    if h.last_error:
        why += f"; the last error: {h.last_error}"
    return why, (
        "press Sync now on the account's console page; if it stays, check that workers run "
        "(metasync runs lists the runs and their errors)"
    )


def _expiring(h: AccountHealth) -> tuple[str, str]:
    parts = []
    if h.token_expires_at:
        parts.append(f"the token expires on {_at(h.token_expires_at)}")
    if h.data_access_expires_at:
        parts.append(f"data access ends on {_at(h.data_access_expires_at)}")
    return " and ".join(parts) or "the token or data access ends within 7 days", (
        "press Refresh token on the account's console page; data access is renewed only by "
        "the person who connected granting the app again (then Refresh token)"
    )


def _failing(h: AccountHealth) -> tuple[str, str]:
    if h.connection_status in ConnectionStatus.BROKEN:
        why = f"the connection is {h.connection_status}: {h.last_error or 'Meta refused it'}"
        return why, f"reconnect with a new token: metasync connections add --tenant {h.tenant_id}"
    if h.state != AccountState.ACTIVE:
        why = f"the account is {h.state}: {h.last_error or 'Meta no longer lets it be read'}"
        return why, "give the connection's user access to the account again in Business Manager"
    if h.last_error:
        return f"its last run failed: {h.last_error}", (
            "fix what the error names, then press Sync now on the account's console page"
        )
    return "its last run failed (no error recorded)", (
        "read the account's recent runs on its console page, then press Sync now"
    )


def flag_reason(flag: str, health: AccountHealth) -> tuple[str, str]:
    """``(why, what to do)`` for an account flagged ``flag`` (lagging, expiring, failing)."""
    explain = {"lagging": _lagging, "expiring": _expiring, "failing": _failing}.get(flag)
    if explain is None:
        return f"it is {flag}", "see the account's console page"
    return explain(health)
