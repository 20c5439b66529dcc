"""Who may use metasync's own interfaces: tenants' API keys, and what operators did.

An API key belongs to one tenant. Only a SHA-256 digest of its secret part is stored (the key
is 32 random bytes, so a fast digest is enough: there is nothing to guess); the plain key is
shown once, when it is created. ``key_id`` is the key's public part, used to find it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, ListField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["SCOPES", "ApiKey", "OperatorAction"]

# What a key may do: ``read`` the mirror, ask for a ``sync``, ``optimize`` (decide
# recommendations), ``propose`` (store proposals for a person to decide, through the MCP
# server; never approve them), list Lead Ads ``leads`` (where each came from, no answers) and
# read their answers, ``lead_answers`` (personal data: a key needs both to see them). A key
# made without scopes reads only; one stored before scopes existed has none recorded and also
# reads only (the stricter reading: widen it with ``api-keys scope``).
SCOPES = ("read", "sync", "optimize", "propose", "leads", "lead_answers")


class ApiKey(Document):  # type: ignore[misc]
    """One tenant's key for ``/api/v1``."""

    tenant_id = StringField(required=True)
    key_id = StringField(required=True)
    secret_sha256 = StringField(required=True)
    name = StringField(default="")
    created_at = DateTimeField(default=utcnow)
    created_by = StringField()
    last_used_at = DateTimeField()
    revoked_at = DateTimeField()
    scopes = ListField(StringField(choices=SCOPES), default=lambda: ["read"])

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "api_keys",
        "indexes": [{"fields": ["key_id"], "unique": True}, {"fields": ["tenant_id"]}],
    }


class OperatorAction(Document):  # type: ignore[misc]
    """Something a person did through the console or the API, and who: a sync requested, a
    token refreshed, a connection paused or resumed."""

    tenant_id = StringField(required=True)
    action = StringField(required=True)
    target = StringField(required=True)  # the connection or account acted on
    by = StringField(required=True)  # a console user, or "api-key:<key id>"
    details = DictField()
    at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "operator_actions",
        "indexes": [
            {"fields": ["tenant_id", "-at"]},
            {"fields": ["tenant_id", "target", "-at"]},  # an account page's actions
            {"fields": ["tenant_id", "details.request_id"]},  # a sync request's status
            {"fields": ["at"]},  # retention
        ],
    }
