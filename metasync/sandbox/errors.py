"""Graph API error answers, in Meta's body shape, raised inside the sandbox's handlers."""

from __future__ import annotations

import secrets
from typing import Any

__all__ = ["GraphError", "not_found"]


class GraphError(Exception):
    """An error answer: HTTP status and Meta's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        is_transient: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.is_transient = is_transient
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": str(self),
            "type": self.error_type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": "Sbx" + secrets.token_hex(8),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def not_found(object_id: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )
