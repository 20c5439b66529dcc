"""The Graph API transport: one ``requests.Session`` per process, one light client per token.

A call goes: rate governor (``acquire``) → HTTP with the token in the ``Authorization`` header and
``appsecret_proof`` → usage headers to the governor → typed error or :class:`GraphResponse`.
Transient errors are retried in-process with the ``backoff`` library; everything else is raised.

Retry delays: exponential, ``retry_base_seconds * 2**n`` (1 s, 2 s, 4 s by default) plus up to
25 % jitter, or the server's ``Retry-After`` when it sent one. A ``Retry-After`` longer than
``max_inline_wait_seconds`` is not slept: the error is raised so the task can re-schedule itself
with a countdown. ``backoff`` runs the loop (tries, give-up); the delay is computed and slept by
the client so tests can inject the sleeper and the random source.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests
from requests.adapters import HTTPAdapter

from metasync.budgets import use_case_of
from metasync.config import Settings
from metasync.graph.errors import (
    InvalidRequestError,
    RateLimitError,
    TransientError,
    error_from_response,
)
from metasync.graph.redact import redact
from metasync.graph.usage import UsageReport, parse_usage_headers
from metasync.graph.version_warning import VersionWarning, version_warning_of
from metasync.ratelimit import RateGovernor

__all__ = ["ClientStats", "GraphClient", "GraphConfig", "GraphResponse", "appsecret_proof"]

log = logging.getLogger(__name__)

JITTER_RATIO = 0.25
GOVERNOR_INLINE_TRIES = 3

_session: requests.Session | None = None
_session_pid: int | None = None


def process_session() -> requests.Session:
    """The ``requests.Session`` of this process (a new one after ``fork()``)."""
    global _session, _session_pid
    if _session is None or _session_pid != os.getpid():
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        _session, _session_pid = session, os.getpid()
    return _session


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """hex HMAC-SHA256(key = app secret, message = access token), sent with every call."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class GraphConfig:
    """How to reach the Graph API. ``base_url`` includes the version (``.../v21.0``)."""

    base_url: str
    app_secret: str = field(repr=False)
    connect_timeout: float = 5.0  # seconds
    read_timeout: float = 60.0  # seconds
    max_retries: int = 3
    retry_base_seconds: float = 1.0
    max_inline_wait_seconds: float = 5.0  # longer waits are raised, not slept

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphConfig:
        return cls(
            base_url=settings.graph_base_url,
            app_secret=settings.META_APP_SECRET.get_secret_value(),
            connect_timeout=settings.META_HTTP_CONNECT_TIMEOUT,
            read_timeout=settings.META_HTTP_READ_TIMEOUT,
            max_retries=settings.META_MAX_RETRIES,
            retry_base_seconds=settings.META_RETRY_BASE_SECONDS,
        )


@dataclass
class ClientStats:
    """What one client did: HTTP requests, inner calls charged, retries, seconds waited."""

    requests: int = 0
    api_calls: int = 0  # batch items count one each, as Meta counts them
    retries: int = 0
    throttled_seconds: float = 0.0
    repeated_cursors: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "throttled_seconds": round(self.throttled_seconds, 3),
            "repeated_cursors": self.repeated_cursors,
        }


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: Any
    headers: Mapping[str, str]
    usage: UsageReport


class GraphClient:
    """Calls the Graph API with one access token (or none, for token exchange).

    ``governor`` and ``connection_id`` go together: with them every call is charged to the
    connection's shared budget. ``sleep`` and ``rng`` are injectable for tests.
    ``on_version_warning`` hears each distinct ``X-Ad-Api-Version-Warning`` this client receives
    (:mod:`metasync.graph.version_warning`); the latest one is also kept in ``version_warning``.
    """

    def __init__(
        self,
        access_token: str | None,
        config: GraphConfig,
        *,
        governor: RateGovernor | None = None,
        connection_id: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        on_version_warning: Callable[[VersionWarning], None] | None = None,
    ) -> None:
        if governor is not None and connection_id is None:
            raise ValueError("a governed client needs the connection id it charges")
        self._token = access_token
        self.config = config
        self.governor = governor
        self.connection_id = connection_id
        self._session = session
        self._sleep = sleep
        self._rng = rng
        self.stats = ClientStats()
        self.version_warning: VersionWarning | None = None
        self._on_version_warning = on_version_warning
        self._secrets = tuple(s for s in (access_token, config.app_secret) if s)

    def __repr__(self) -> str:
        return f"GraphClient(base_url={self.config.base_url!r}, connection={self.connection_id!r})"

    def redact(self, text: str, *extra: str) -> str:
        """``text`` without this client's token, the app secret, or ``extra`` secrets."""
        return redact(text, (*self._secrets, *extra))

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> GraphResponse:
        return self.request("GET", path, params=params, **kwargs)

    def post(
        self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> GraphResponse:
        return self.request("POST", path, data=data, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        account_id: str | None = None,
        business_id: str | None = None,
        use_case: str | None = None,
        cost: int = 1,
        retry: bool = True,
    ) -> GraphResponse:
        """One Graph call with retries of transient errors. Raises :class:`MetaAPIError` types.

        ``use_case`` names the budget the call spends when its path does not say
        (:func:`metasync.budgets.use_case_of`), e.g. a report run's status read.
        """
        spends = use_case or use_case_of(path)

        def attempt() -> GraphResponse:
            return self._send(method, path, params, data, account_id, business_id, spends, cost)

        if not retry or self.config.max_retries == 0:
            return attempt()
        retrying = backoff.on_exception(
            backoff.constant,
            TransientError,
            interval=0,  # the wait happens in _pause, through the injectable sleeper
            jitter=None,
            max_tries=self.config.max_retries + 1,
            giveup=self._give_up,
            on_backoff=self._pause,
            logger=None,
        )(attempt)
        result: GraphResponse = retrying()
        return result

    def retry_delay(self, retry_number: int, error: TransientError) -> float:
        """Seconds before retry ``retry_number`` (1-based): Retry-After, else exponential+jitter."""
        if error.retry_after is not None:
            return float(error.retry_after)
        nominal = self.config.retry_base_seconds * 2.0 ** (retry_number - 1)
        return nominal * (1.0 + JITTER_RATIO * self._rng())

    def _give_up(self, error: Exception) -> bool:
        if not isinstance(error, TransientError) or not error.retryable:
            return True
        after = error.retry_after
        return after is not None and after > self.config.max_inline_wait_seconds

    def _pause(self, details: Any) -> None:
        delay = self.retry_delay(int(details["tries"]), details["exception"])
        self.stats.retries += 1
        log.info(
            "retry %d of %d after %.2f s: %s",
            details["tries"],
            self.config.max_retries,
            delay,
            details["exception"].message,
            extra={"connection_id": self.connection_id},
        )
        self._sleep(delay)

    def _wait_for_governor(
        self, account_id: str | None, business_id: str | None, use_case: str, cost: int
    ) -> None:
        if self.governor is None or self.connection_id is None:
            return
        for _ in range(GOVERNOR_INLINE_TRIES):
            decision = self.governor.acquire(
                self.connection_id,
                account_id=account_id,
                business_id=business_id,
                use_case=use_case,
                cost=cost,
            )
            if decision.allowed:
                return
            if decision.wait_seconds > self.config.max_inline_wait_seconds:
                self.stats.throttled_seconds += decision.wait_seconds
                raise RateLimitError(
                    f"rate governor: {decision.reason} is at its limit",
                    retry_after=decision.wait_seconds,
                    scope="governor",
                )
            self.stats.throttled_seconds += decision.wait_seconds
            self._sleep(decision.wait_seconds)
        raise RateLimitError(
            "rate governor: still waiting after pacing", retry_after=1.0, scope="governor"
        )

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        account_id: str | None,
        business_id: str | None,
        use_case: str,
        cost: int,
    ) -> GraphResponse:
        self._wait_for_governor(account_id, business_id, use_case, cost)
        url = (
            self._own_url(path)
            if path.startswith(("http://", "https://"))
            else (f"{self.config.base_url}/{path.lstrip('/')}")
        )
        query = {key: _encode(value) for key, value in (params or {}).items()}
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
            query["appsecret_proof"] = appsecret_proof(self.config.app_secret, self._token)
        form = {key: _encode(value) for key, value in data.items()} if data is not None else None
        started = time.monotonic()
        session = self._session or process_session()
        try:
            response = session.request(
                method,
                url,
                params=query,
                data=form,
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
        except requests.Timeout:
            raise TransientError(
                f"Graph API did not answer {method} {_path_only(path)} within "
                f"{self.config.read_timeout:.0f} s"
            ) from None
        except requests.RequestException as exc:
            raise TransientError(
                f"cannot reach the Graph API for {method} {_path_only(path)}: "
                + self.redact(f"{type(exc).__name__}: {exc}")
            ) from None
        finally:
            self.stats.requests += 1
            self.stats.api_calls += cost
        elapsed_ms = (time.monotonic() - started) * 1000
        usage = parse_usage_headers(response.headers)
        self._hear_version_warning(response.headers)
        if self.governor is not None and self.connection_id and not usage.empty:
            self.governor.record_usage(
                usage, connection_id=self.connection_id, account_id=account_id
            )
        log.debug(
            "%s %s -> %d in %.0f ms",
            method,
            _path_only(path),
            response.status_code,
            elapsed_ms,
            extra={"connection_id": self.connection_id, "account_id": account_id},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
            if response.status_code < 400:
                raise TransientError(
                    f"Graph API answered {method} {_path_only(path)} with a body that is not JSON",
                    http_status=response.status_code,
                    usage=usage,
                ) from None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            error = error_from_response(
                response.status_code, self._scrub(body), response.headers, usage
            )
            if isinstance(error, RateLimitError) and self.governor is not None:
                self.governor.block_for_error(
                    error, connection_id=self.connection_id or "", account_id=account_id
                )
            raise error
        return GraphResponse(response.status_code, body, response.headers, usage)

    def _hear_version_warning(self, headers: Mapping[str, str]) -> None:
        """Keep and pass on Meta's version warning; logged once per distinct text per client."""
        warning = version_warning_of(headers)
        if warning is None or warning == self.version_warning:
            return
        self.version_warning = warning
        log.warning(
            "Meta upgraded a call of %s to %s: %s",
            self.config.base_url.rsplit("/", 1)[-1],
            warning.served_version or "a newer version",
            warning.text,
            extra={"connection_id": self.connection_id},
        )
        if self._on_version_warning is not None:
            self._on_version_warning(warning)

    def _own_url(self, url: str) -> str:
        """An absolute URL (from a response) is called only when it names the configured Graph
        host and version: anything else would receive the token."""
        wanted, given = urlsplit(self.config.base_url), urlsplit(url)
        same_place = (given.scheme, given.netloc) == (wanted.scheme, wanted.netloc)
        if not same_place or not (given.path + "/").startswith(wanted.path.rstrip("/") + "/"):
            raise InvalidRequestError(
                f"refusing to send a Graph call to {given.scheme}://{given.netloc}"
                f"{_path_only(given.path)}: only {self.config.base_url} is called"
            )
        return url

    def _scrub(self, body: Any) -> Any:
        """Redact secrets from the text fields of an error body before it becomes an error."""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = dict(body["error"])
            for key in ("message", "error_user_title", "error_user_msg"):
                if isinstance(error.get(key), str):
                    error[key] = self.redact(error[key])
            return {**body, "error": error}
        return body


def _encode(value: Any) -> str:
    """Graph parameters: lists and dicts as JSON, booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _path_only(path: str) -> str:
    """The path of ``path`` without its query string (which may hold secrets)."""
    return path.split("?", 1)[0]
