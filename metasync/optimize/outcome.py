"""What an attempt to apply or undo a recommendation came to, as the CLI (an exit status) and
the API (an HTTP status) say it: one line naming the reason and what to do next.

===========================  ====  ====  ==================================================
state after the attempt      exit  HTTP  meaning
===========================  ====  ====  ==================================================
``applied``, ``undone``      0     200   written, read back and audited
``approved`` and waiting     0     202   the account's daily cap: the recovery applies it at
                                         the next UTC midnight
``failed``, a permission     1     403   Meta refused: the token lacks a permission or was
                                         revoked; grant it, then apply again
``failed``, anything else    1     502   Meta refused the write (a value, an object it will
                                         not change) or kept failing past the retries
``expired``                  1     409   the entity changed since the evidence: the next
                                         evaluation decides again
``compensated``              1     502   the second write failed at Meta (409: someone
                                         changed it); the first was taken back
``restore_refused``          1     502   Meta refused for good to take a write back:
                                         ``restore`` says what was not restored
===========================  ====  ====  ==================================================

403 (not 502) for a permission because the cure is the same as for an API key without a scope:
someone grants something; the detail says which (Meta's permission, not the key's scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from metasync.graph.errors import PERMISSION_FIX
from metasync.models import Recommendation

__all__ = ["Outcome", "not_restored", "outcome"]


@dataclass(frozen=True)
class Outcome:
    """``ok``: the write is done or will be by itself; ``status``: the API's answer; ``line``:
    what happened, in one line, with what to do next."""

    ok: bool
    status: int
    line: str


def not_restored(rec: Recommendation) -> str:
    """The values a refused take-back left, from ``rec.restore``: ``adset 12 daily_budget 10000
    (Meta holds 7000)``, ``;``-separated; empty when everything holds its value before."""
    parts = []
    for entity in rec.restore or []:
        meta = entity.get("meta")
        for name, before in (entity.get("not_restored") or {}).items():
            held = "unreadable" if meta is None else meta.get(name)
            parts.append(
                f"{entity['level']} {entity['entity_id']} {name} {before} (Meta holds {held})"
            )
    return "; ".join(parts)


def outcome(rec: Recommendation, via: Literal["cli", "api"] = "cli") -> Outcome:
    """What the attempt that left ``rec`` in its state came to (see the module's table)."""
    ident, tenant = str(rec.pk), rec.tenant_id
    if via == "cli":
        apply_again = f"run metasync recommendations apply --tenant {tenant} {ident} again"
        undo_again = f"run metasync recommendations undo --tenant {tenant} {ident}"
    else:
        apply_again = f"POST /api/v1/recommendations/{ident}/apply again"
        undo_again = f"run metasync recommendations undo --tenant {tenant} {ident}"
    state, error = rec.state, rec.error or ""
    if state in ("applied", "undone"):
        return Outcome(True, 200, f"recommendation {ident}: {state}")
    if state == "approved" and rec.waiting_until is not None:
        return Outcome(True, 202, f"recommendation {ident}: approved, waiting: {error}")
    failure = dict(rec.failure or {})
    if state == "failed":
        message = failure.get("message") or error
        if failure.get("permission"):
            # the Graph error already names the fix; said once, with the command to run after
            said = str(message).removesuffix(f": {PERMISSION_FIX}")
            return Outcome(
                False, 403, f"apply refused by Meta: {said}; {PERMISSION_FIX} and {apply_again}"
            )
        said = "refused by Meta" if failure.get("refused_for_good") else "failed at Meta"
        return Outcome(False, 502, f"apply {said}: {message}; once fixed, {apply_again}")
    if state == "expired":
        return Outcome(
            False,
            409,
            f"apply stopped: {error}; the next evaluation decides again on fresh evidence",
        )
    if state == "compensated":
        return Outcome(False, 502 if failure else 409, f"apply not completed: {error}")
    if state == "restore_refused":
        left = not_restored(rec) or "nothing (every entity holds its value before)"
        return Outcome(
            False, 502, f"{error}; not restored: {left}; once the cause is fixed, {undo_again}"
        )
    return Outcome(False, 409, f"recommendation {ident}: {state}{f' ({error})' if error else ''}")
