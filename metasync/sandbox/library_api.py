"""The sandbox's library edges of an ad account: ``adimages``, ``advideos``,
``customconversions``, ``customaudiences`` and ``activities``.

The libraries are complete listings: Meta offers no ``updated_time`` filter on them (Airbyte's
connector notes that filtering on videos stopped working on 2023-01-13), so ``filtering`` is
refused with (#100) rather than silently ignored. ``adimages`` takes ``hashes`` (a JSON list)
to read chosen images. ``activities`` is read by time: ``since`` / ``until`` as unix seconds
or a date, newest event first; anything else is (#100). Every call spends the account's
``ads_management`` budget, like the other edges
(:func:`metasync.sandbox.rate_limits.use_case_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from metasync.sandbox.catalogue import NODE_TYPES, allowed_fields
from metasync.sandbox.errors import GraphError
from metasync.sandbox.library import EDGE_KINDS
from metasync.sandbox.listing import paginate
from metasync.sandbox.query import parse_fields, select_fields
from metasync.sandbox.state import SandboxState

__all__ = ["LIBRARY_EDGES", "read"]

LIBRARY_EDGES = (*EDGE_KINDS, "activities")
# what Meta returns without ``fields`` (each edge's reference page)
DEFAULT_FIELDS = {
    "adimages": "hash,id",
    "advideos": "id,title,updated_time",
    "customconversions": "id",
    "customaudiences": "id",
    "activities": "event_time,event_type,object_id,object_type,translated_event_type",
}


def _bad(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}", error_type="GraphMethodException")


def _moment(name: str, value: Any) -> int | None:
    """``since``/``until`` as unix seconds: an integer, or a ``YYYY-MM-DD`` date (UTC)."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise _bad(f"Param {name} must be a unix time or a date (YYYY-MM-DD)") from None


def _unix(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def _activity_key(entry: Mapping[str, Any]) -> str:
    text = "|".join(str(entry[k]) for k in ("event_time", "object_id", "event_type", "extra_data"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read(
    state: SandboxState,
    account_id: str,
    edge: str,
    params: Mapping[str, Any],
    *,
    next_base: str,
    token: str,
) -> dict[str, Any]:
    """One page of a library edge of ``account_id``."""
    library = state.world.library
    spec = parse_fields(params.get("fields") or DEFAULT_FIELDS[edge])
    if edge == "activities":
        since, until = _moment("since", params.get("since")), _moment("until", params.get("until"))
        entries = sorted(
            (
                e
                for e in library.activities
                if e["account_id"] == account_id
                and (since is None or _unix(e["event_time"]) >= since)
                and (until is None or _unix(e["event_time"]) <= until)
            ),
            key=lambda e: (e["event_time"], _activity_key(e)),
            reverse=True,
        )
        allowed = allowed_fields("activity")

        def render(entry: dict[str, Any]) -> dict[str, Any]:
            row = select_fields(entry, spec, allowed, NODE_TYPES["activity"])
            return {k: v for k, v in row.items() if not (k == "id" and v is None)}

        return paginate(
            entries,
            _activity_key,
            render,
            params,
            next_base=next_base,
            token=token,
            faults=state.faults,
        )
    if params.get("filtering"):
        raise _bad(f"Filtering is not supported on the {edge} edge")
    kind, table = EDGE_KINDS[edge]
    objects = library.listing(table, account_id)
    if edge == "adimages" and params.get("hashes"):
        try:
            hashes = {str(h) for h in json.loads(str(params["hashes"]))}
        except ValueError:
            raise _bad("Param hashes must be a JSON array of image hashes") from None
        objects = [o for o in objects if o["hash"] in hashes]
    allowed = allowed_fields(kind)
    return paginate(
        objects,
        lambda o: str(o["id"]),
        lambda o: select_fields(o, spec, allowed, NODE_TYPES[kind]),
        params,
        next_base=next_base,
        token=token,
        faults=state.faults,
    )
