"""Batch requests, and reading objects by id through them.

A batch is ``POST /`` with up to 50 inner requests; every inner call counts against Meta's limits
(and against our governor's budget). Each item gets its own result: a body, or a typed error,
with its own headers and usage (handed to the governor). An item that comes back ``null`` (it did
not finish) or as error 960 (aborted) is sent again in the next round, at most ``max_rounds``
rounds in all; dropping it would lose data silently, so after the last round it is returned as a
:class:`TransientError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from metasync.graph.client import GraphClient
from metasync.graph.errors import (
    MetaAPIError,
    RateLimitError,
    TokenError,
    TransientError,
    error_from_response,
)
from metasync.graph.usage import UsageReport, parse_usage_headers

__all__ = [
    "BATCH_LIMIT",
    "BatchRequest",
    "BatchResult",
    "EachRead",
    "batch",
    "read_each",
]

BATCH_LIMIT = 50


@dataclass(frozen=True)
class BatchRequest:
    relative_url: str  # e.g. "12345?fields=name,status" (no token: auth is the batch's)
    method: str = "GET"
    body: str | None = None

    def as_json(self) -> dict[str, str]:
        item = {"method": self.method, "relative_url": self.relative_url}
        if self.body is not None:
            item["body"] = self.body
        return item


@dataclass
class BatchResult:
    request: BatchRequest
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: UsageReport = field(default_factory=UsageReport)
    error: MetaAPIError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


def _parse_item(client: GraphClient, request: BatchRequest, item: Any) -> BatchResult:
    headers = {
        str(h.get("name")): str(h.get("value"))
        for h in item.get("headers") or []
        if isinstance(h, dict)
    }
    status = int(item.get("code") or 0)
    raw = item.get("body")
    try:
        body = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        body = None
    usage = parse_usage_headers(headers)
    result = BatchResult(request, status, body, headers, usage)
    if status >= 400 or status == 0 or (isinstance(body, dict) and "error" in body):
        result.error = error_from_response(status or 500, client._scrub(body), headers, usage)
    return result


def batch(
    client: GraphClient,
    requests: Sequence[BatchRequest],
    *,
    account_id: str | None = None,
    max_rounds: int = 3,
) -> list[BatchResult]:
    """Run ``requests`` in chunks of at most 50; results are in the order of ``requests``."""
    results: list[BatchResult | None] = [None] * len(requests)
    pending = list(range(len(requests)))
    for _ in range(max_rounds):
        if not pending:
            break
        retry: list[int] = []
        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            payload = json.dumps([requests[i].as_json() for i in chunk], separators=(",", ":"))
            answer = client.post(
                "",
                {"batch": payload, "include_headers": True},
                account_id=account_id,
                cost=len(chunk),
            ).body
            items = answer if isinstance(answer, list) else []
            for position, index in enumerate(chunk):
                item = items[position] if position < len(items) else None
                if not isinstance(item, dict):
                    retry.append(index)
                    continue
                parsed = _parse_item(client, requests[index], item)
                if client.governor is not None and client.connection_id and not parsed.usage.empty:
                    client.governor.record_usage(
                        parsed.usage, connection_id=client.connection_id, account_id=account_id
                    )
                if parsed.error is not None and parsed.error.code == 960:
                    retry.append(index)
                    continue
                results[index] = parsed
        pending = retry
    for index in pending:
        results[index] = BatchResult(
            requests[index],
            error=TransientError(f"batch item did not complete after {max_rounds} rounds"),
        )
    return [result for result in results if result is not None]


# errors that concern the whole connection, not one object: they end a read of many objects
_CONNECTION_ERRORS = (TokenError, RateLimitError, TransientError)


@dataclass
class EachRead:
    """What :func:`read_each` learnt: the objects that answered (by the id asked for) and the
    objects Meta refused, each with its own error. An id in neither was not returned."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: dict[str, MetaAPIError] = field(default_factory=dict)


def read_each(
    client: GraphClient,
    ids: Sequence[str],
    fields: Sequence[str],
    *,
    account_id: str | None = None,
) -> EachRead:
    """Read objects by id so that each gets its own answer: one batch item per id, 50 a batch
    (null items sent again). An object Meta refuses (#803 unknown, #100/33 gone, #200
    permission) is named in ``refused`` with its own error. Token, rate-limit and transient
    errors concern the connection, not one object: they propagate.
    """
    result = EachRead()
    if not ids:
        return result
    query = ",".join(fields)
    requests = [BatchRequest(f"{object_id}?fields={query}") for object_id in ids]
    for object_id, item in zip(ids, batch(client, requests, account_id=account_id), strict=True):
        if isinstance(item.error, _CONNECTION_ERRORS):
            raise item.error
        if item.error is not None:
            result.refused[object_id] = item.error
        elif isinstance(item.body, dict):
            result.found[object_id] = item.body
    return result
