"""Errors of the Graph API client, and the one function that maps Meta's answers onto them.

::

    MetaAPIError                      code, subcode, fbtrace_id, http_status, user title/message
    ├── TokenError                    102, 190 (subcodes 458-467): never retried; connection EXPIRED
    ├── PermissionDeniedError         10, 200-299: never retried; recorded on the connection/run
    ├── InvalidRequestError           100 and other 4xx: never retried
    │   ├── ObjectNotFoundError       (100, 33): object missing (or not yet visible: report jobs)
    │   ├── InvalidCursorError        2642: restart the listing
    │   └── DeprecatedVersionError    2635: META_API_VERSION is too old (configuration)
    ├── RateLimitError                4, 17, 32, 341, 613, 80000-80014, 429: carries retry_after
    ├── ReduceDataError               code 1 "reduce the amount of data": halve ``limit``
    └── TransientError                5xx, 1, 2, 960, 2601, resets, timeouts: retried with backoff
        └── InsightsTimeoutError      (2, 1504038): a sync insights read timed out: go async

    RateGovernorUnavailable           Redis could not be asked (not a Meta error; retry later)

Messages say what happened and what to do next; they never contain a token (see
:mod:`metasync.graph.redact`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from metasync.graph.usage import UsageReport, parse_usage_headers

__all__ = [
    "PERMISSION_FIX",
    "DeprecatedVersionError",
    "InsightsTimeoutError",
    "InvalidCursorError",
    "InvalidRequestError",
    "MetaAPIError",
    "ObjectNotFoundError",
    "PermissionDeniedError",
    "RateGovernorUnavailable",
    "RateLimitError",
    "ReduceDataError",
    "TokenError",
    "TransientError",
    "as_int",
    "error_from_response",
]

# the fix a permission refusal names; callers that add their own next step drop it from the
# message instead of saying it twice
PERMISSION_FIX = "grant the missing permission"

# Waits (seconds) used when a throttling answer carries no usable header. (unverified: Meta does
# not document them; they err on the long side so a throttled account is not hammered.)
DEFAULT_RATE_LIMIT_WAIT = {4: 300.0, 17: 300.0, 32: 300.0, 341: 300.0, 613: 60.0}
# Meta's business-use-case throttling codes and the budget each names ("Rate limiting").
BUSINESS_USE_CASES = {
    80000: "ads_insights",
    80001: "pages",
    80002: "instagram",
    80003: "custom_audience",
    80004: "ads_management",
    80005: "leadgen",
    80006: "messenger",
    80008: "whatsapp_business_management",
    80009: "catalog_management",
    80014: "catalog_batch",
}
ACCOUNT_QUOTA_BLOCK_WAIT = 900.0  # (17, 2446079): "up to about an hour"; re-checked after this
BUC_DEFAULT_WAIT = 300.0
HTTP_429_DEFAULT_WAIT = 60.0
REDUCE_DATA_TEXT = "reduce the amount of data"


class MetaAPIError(Exception):
    """An error answer from the Graph API (or a failure to get one)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        error_type: str | None = None,
        user_title: str | None = None,
        user_message: str | None = None,
        is_transient: bool = False,
        usage: UsageReport | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.error_type = error_type
        self.user_title = user_title
        self.user_message = user_message
        self.is_transient = is_transient
        self.usage = usage
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [
            f"code={self.code}" if self.code is not None else None,
            f"subcode={self.subcode}" if self.subcode is not None else None,
            f"http={self.http_status}" if self.http_status is not None else None,
            f"fbtrace_id={self.fbtrace_id}" if self.fbtrace_id else None,
        ]
        context = ", ".join(part for part in parts if part)
        return f"{self.message} ({context})" if context else self.message

    def as_record(self) -> dict[str, Any]:
        """A JSON-safe summary for run statistics and the connection's last error."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "fbtrace_id": self.fbtrace_id,
        }


class TokenError(MetaAPIError):
    """The access token is invalid, expired or revoked. Re-authorize; never retry."""

    @property
    def expired(self) -> bool:
        """Subcode 463: plainly expired (a refresh may be tried before giving up)."""
        return self.subcode == 463


class PermissionDeniedError(MetaAPIError):
    """The token lacks a permission or access to the object. Grant it; never retry."""


class InvalidRequestError(MetaAPIError):
    """The request itself is wrong (parameter, field, object). Fix the request; never retry."""


class ObjectNotFoundError(InvalidRequestError):
    """(100, 33): the object does not exist or cannot be seen with this token."""


class InvalidCursorError(InvalidRequestError):
    """2642: a paging cursor is no longer valid. Restart the listing from the beginning."""


class DeprecatedVersionError(InvalidRequestError):
    """2635: the configured META_API_VERSION is no longer served. Raise it."""


class RateLimitError(MetaAPIError):
    """Throttled (by Meta, or by our own governor). ``retry_after`` is in seconds.

    ``scope`` says whose budget ran out (``app``, ``user``, ``account``, ``business``,
    ``connection``) and ``scope_id`` which one, when known, and ``use_case`` which of a
    business's or account's budgets (``ads_insights`` for 80000, ``ads_management`` for
    80004...); the rate governor blocks that scope.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        scope: str = "app",
        scope_id: str | None = None,
        use_case: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.retry_after = max(0.0, float(retry_after))
        self.scope = scope
        self.scope_id = scope_id
        self.use_case = use_case
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        return f"{super()._describe()}; retry in {self.retry_after:.0f} s"


class ReduceDataError(MetaAPIError):
    """Meta asks for less data per page: halve ``limit`` and try again."""


class TransientError(MetaAPIError):
    """A temporary failure: retried in-process with backoff, then by the task."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after  # from a Retry-After header, when the server sent one
        super().__init__(message, **kwargs)


class InsightsTimeoutError(TransientError):
    """(2, 1504038): a synchronous insights read timed out. Use an async report job instead."""

    retryable = False  # retrying the same sync read wastes minutes; the caller switches to async


class RateGovernorUnavailable(Exception):
    """Redis could not be asked for permission to call. Fails closed: retry the task later."""


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _rate_limit(
    code: int,
    subcode: int | None,
    http_status: int,
    usage: UsageReport,
    headers: Mapping[str, str],
    common: dict[str, Any],
) -> RateLimitError:
    header_wait = _retry_after_header(headers)
    if 80000 <= code <= 80014:
        use_case = BUSINESS_USE_CASES.get(code)
        scope_id, wait = usage.longest_regain(use_case)
        return RateLimitError(
            common["message"]
            + f": business use case {use_case or code} throttled; wait for the regain time",
            retry_after=wait if wait > 0 else header_wait or BUC_DEFAULT_WAIT,
            scope="business",
            scope_id=scope_id,
            use_case=use_case,
            **common_without_message(common),
        )
    if (code == 17 and subcode == 2446079) or (code == 613 and subcode == 1487742):
        account_wait = usage.account_reset_seconds()
        return RateLimitError(
            common["message"] + ": this ad account has too many calls (an account block)",
            retry_after=max(account_wait or 0.0, usage.longest_regain()[1])
            or (ACCOUNT_QUOTA_BLOCK_WAIT if code == 17 else DEFAULT_RATE_LIMIT_WAIT[613]),
            scope="account",
            **common_without_message(common),
        )
    scope = {4: "app", 17: "user", 32: "page", 341: "app", 613: "custom"}.get(code, "app")
    if http_status == 429 and code not in DEFAULT_RATE_LIMIT_WAIT:
        default = HTTP_429_DEFAULT_WAIT
    else:
        default = DEFAULT_RATE_LIMIT_WAIT.get(code, HTTP_429_DEFAULT_WAIT)
    wait = header_wait or usage.longest_regain()[1] or default
    return RateLimitError(
        common["message"] + ": rate limited; the task re-schedules itself",
        retry_after=wait,
        scope=scope,
        **common_without_message(common),
    )


def common_without_message(common: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in common.items() if key != "message"}


def error_from_response(
    http_status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    usage: UsageReport | None = None,
) -> MetaAPIError:
    """Map a failed answer (HTTP status, parsed or raw body, headers) onto the hierarchy.

    ``body`` may be the decoded JSON, a JSON string (batch items), bytes, or anything else.
    Messages are Meta's own text (which never echoes the token) plus what to do next.
    """
    headers = headers or {}
    usage = usage if usage is not None else parse_usage_headers(headers)
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        message = f"unexpected HTTP {http_status} answer without a Graph error body"
        if http_status == 429:
            return RateLimitError(
                message,
                retry_after=_retry_after_header(headers) or HTTP_429_DEFAULT_WAIT,
                http_status=http_status,
                usage=usage,
            )
        if http_status >= 500:
            return TransientError(
                message,
                retry_after=_retry_after_header(headers),
                http_status=http_status,
                usage=usage,
            )
        return MetaAPIError(message, http_status=http_status, usage=usage)

    code = as_int(error.get("code"))
    subcode = as_int(error.get("error_subcode"))
    text = str(error.get("message") or "Graph API error")
    common: dict[str, Any] = {
        "message": text,
        "code": code,
        "subcode": subcode,
        "http_status": http_status,
        "fbtrace_id": error.get("fbtrace_id"),
        "error_type": error.get("type"),
        "user_title": error.get("error_user_title"),
        "user_message": error.get("error_user_msg"),
        "is_transient": bool(error.get("is_transient")),
        "usage": usage,
    }
    rest = common_without_message(common)
    if code in (102, 190):
        return TokenError(text + ": re-authorize this connection", **rest)
    if code == 10 or (code is not None and 200 <= code <= 299):
        return PermissionDeniedError(f"{text}: {PERMISSION_FIX}", **rest)
    if (
        code in (4, 17, 32, 341, 613)
        or (code is not None and 80000 <= code <= 80014)
        or (http_status == 429)
    ):
        return _rate_limit(code or 0, subcode, http_status, usage, headers, common)
    if code == 1 and REDUCE_DATA_TEXT in text.lower():
        return ReduceDataError(text, **rest)
    if code == 2 and subcode == 1504038:
        return InsightsTimeoutError(text + ": use an async report job", **rest)
    if code in (1, 2, 960, 2601) or http_status >= 500 or common["is_transient"]:
        return TransientError(text, retry_after=_retry_after_header(headers), **rest)
    if code == 100 and subcode == 33:
        return ObjectNotFoundError(text, **rest)
    if code == 2642:
        return InvalidCursorError(text + ": restart the listing", **rest)
    if code == 2635:
        return DeprecatedVersionError(text + ": raise META_API_VERSION", **rest)
    if code == 100 or 400 <= http_status < 500:
        return InvalidRequestError(text, **rest)
    return MetaAPIError(text, **rest)


def as_int(value: Any) -> int | None:
    """A number Meta sent as an int or a string (codes, subcodes), or None when it is not one."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
