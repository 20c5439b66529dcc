"""Every Redis key metasync uses, in one place.

All keys share a prefix (``metasync:`` by default) so that several deployments, or test runs,
can share one Redis server without colliding: tests give each test its own prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "RedisKeys"]

DEFAULT_PREFIX = "metasync:"


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = DEFAULT_PREFIX

    def calls(self, connection_id: str) -> str:
        """Sorted set of one connection's platform calls (ms) in the rolling window (/me,
        debug_token, token exchange: the user's budget)."""
        return f"{self.prefix}rl:calls:{connection_id}"

    def budget_warned(self, connection_id: str) -> str:
        """Set once per window when the connection passed the warning share of its budget."""
        return f"{self.prefix}rl:warned:{connection_id}"

    def account_calls(self, account_id: str, use_case: str) -> str:
        """Hash {bucket index: calls} of one ad account's use case in the rolling window."""
        return f"{self.prefix}rl:acct:{account_id}:{use_case}"

    def meta_usage(self, account_id: str, use_case: str) -> str:
        """Hash {pct, after}: Meta's latest percentage for an account's use case, and the calls
        made since it came (short-lived: a stale percentage gives way to the own count)."""
        return f"{self.prefix}rl:meta:{account_id}:{use_case}"

    def active_ads(self) -> str:
        """Hash {ad account id: active ads in the mirror}, which sizes Meta's budgets."""
        return f"{self.prefix}rl:active-ads"

    def blocked(self, scope: str, scope_id: str) -> str:
        """Unix time (ms) until which calls for this scope must wait."""
        return f"{self.prefix}rl:blocked:{scope}:{scope_id}"

    def pace(self, scope: str, scope_id: str) -> str:
        """Hash {interval, next} (ms) spacing out calls for a scope that is close to its limit."""
        return f"{self.prefix}rl:pace:{scope}:{scope_id}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    def console_session(self, digest: str) -> str:
        """Hash {user, csrf, fingerprint}: one console session, by the SHA-256 of its cookie."""
        return f"{self.prefix}web:session:{digest}"

    def login_failures(self, scope: str, digest: str) -> str:
        """Count of login attempts of one address or user (by digest), each counted before its
        password check and kept unless it succeeded, within a day of quiet."""
        return f"{self.prefix}web:login-failures:{scope}:{digest}"

    def login_wait(self, scope: str, digest: str) -> str:
        """Set while an address or user must wait before its next password check."""
        return f"{self.prefix}web:login-wait:{scope}:{digest}"

    def api_bucket(self, key_id: str) -> str:
        """Hash {tokens, at}: one API key's token bucket."""
        return f"{self.prefix}web:api-bucket:{key_id}"

    def pending_sync(self, connection_id: str) -> str:
        """The request id of the sync asked for a connection and not yet finished."""
        return f"{self.prefix}web:pending-sync:{connection_id}"
