"""The sandbox's Graph API: one dispatcher for direct calls and for each item of a batch.

:meth:`GraphAPI.handle` takes a method, a path (after the version), the parameters and the
``Authorization`` header, and returns a :class:`Reply`: status, Meta-shaped body, headers (usage
headers on every answer) and the delay the fault profile adds. Order of checks, as Meta does:
authentication and ``appsecret_proof``, injected faults, throttling, then the route.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from metasync.sandbox import insights_api, leads_api, library_api, tokens_api, writes_api
from metasync.sandbox.catalogue import NODE_TYPES, allowed_fields
from metasync.sandbox.errors import GraphError, not_found
from metasync.sandbox.legacy import multi_id_read, refuse_legacy
from metasync.sandbox.listing import filter_objects, paginate
from metasync.sandbox.query import parse_fields, select_fields
from metasync.sandbox.rate_limits import ADS_INSIGHTS, use_case_of
from metasync.sandbox.state import SandboxState, TokenRecord

__all__ = ["GraphAPI", "Reply"]

EDGES = ("campaigns", "adsets", "ads", "adcreatives")
KIND_OF_EDGE = {
    "campaigns": "campaign",
    "adsets": "adset",
    "ads": "ad",
    "adcreatives": "adcreative",
}
ALLOWED = {kind: allowed_fields(kind) for kind in NODE_TYPES if kind != "insights"}
# Edges under one object (Campaign and Ad Set references): (kind, edge) -> (child kind, link)
CHILD_EDGES = {
    ("campaign", "adsets"): ("adset", "campaign_id"),
    ("campaign", "ads"): ("ad", "campaign_id"),
    ("adset", "ads"): ("ad", "adset_id"),
}
# What Meta returns when no ``fields`` are asked for (Graph API reference of each edge).
DEFAULT_FIELDS = {"adaccounts": "account_id,id"}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _bearer(authorization: str | None, params: Mapping[str, Any]) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value:
            return value.strip()
    token = params.get("access_token")
    return str(token) if token else None


class GraphAPI:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # -- entry point -------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        authorization: str | None,
        base_url: str,
        *,
        version: str = "",
        in_batch: bool = False,
    ) -> Reply:
        state = self.state
        path = path.strip("/")
        token = _bearer(authorization, params)
        user_id: str | None = None
        account_id: str | None = None
        use_case = use_case_of(path)
        if path in state.jobs.jobs:  # a report run's status: Meta counts it as insights
            use_case = ADS_INSIGHTS
        charged = not (path == "" and method == "POST")  # a batch envelope costs nothing itself
        state.counters.total += 1
        state.counters.by_path[state.counters.normalize(method, path)] += 1
        delay = 0.0 if in_batch else state.faults.delay_seconds()
        extra: dict[str, str] = {}
        try:
            if path == "oauth/access_token":
                return Reply(200, tokens_api.exchange(state, params), delay=delay)
            if path == "debug_token":
                return Reply(200, tokens_api.debug_token(state, token, params), delay=delay)
            record = tokens_api.authenticate(state, token, params)
            user_id = record.user_id
            account_id = self._account_for(path)
            state.counters.by_user[user_id] += 1
            if account_id:
                state.counters.by_account[account_id] += 1
            refuse_legacy(state.config.app_created, method, path, params)
            self._inject_faults()
            if charged:
                state.usage.check(user_id, account_id, use_case)
                state.usage.record(user_id, account_id, use_case)
                state.counters.graph_calls += 1
            body = self._route(method, path, params, record, base_url, authorization, version)
            extra = body.pop(insights_api.HEADERS_KEY, {}) if isinstance(body, dict) else {}
            delay += float(body.pop(writes_api.DELAY_KEY, 0.0)) if isinstance(body, dict) else 0.0
            reply = Reply(200, body, delay=delay)
        except GraphError as error:
            state.counters.by_error_code[str(error.code)] += 1
            reply = Reply(error.status, error.body(), dict(error.headers), delay=delay)
        if not reply.headers:
            reply.headers = state.usage.headers(user_id, account_id, use_case)
            reply.headers.update(extra)
        state.counters.by_status[str(reply.status)] += 1
        return reply

    # -- checks ------------------------------------------------------------------------------

    def _inject_faults(self) -> None:
        faults = self.state.faults
        if faults.chance(faults.error_5xx_rate):
            raise GraphError(500, 1, "An unknown error occurred", is_transient=True)
        if faults.chance(faults.code2_rate):
            raise GraphError(503, 2, "Service temporarily unavailable", is_transient=True)

    def _account_for(self, path: str) -> str | None:
        head = path.split("/", 1)[0]
        world = self.state.world
        if head.startswith("act_"):
            return head[4:]
        found = world.object(head)
        if found is not None:
            return str(found[1]["account_id"])
        job = self.state.jobs.jobs.get(head)
        return job.account_id if job is not None else None

    def _account(self, record: TokenRecord, account_id: str) -> dict[str, Any]:
        world = self.state.world
        if account_id not in world.accounts:
            raise not_found(f"act_{account_id}")
        if account_id not in world.users[record.user_id].account_ids:
            raise GraphError(
                400,
                200,
                "(#200) The user does not have permission to access this ad account",
                error_type="OAuthException",
            )
        return world.accounts[account_id]

    # -- routes ------------------------------------------------------------------------------

    def _route(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        record: TokenRecord,
        base_url: str,
        authorization: str | None,
        version: str,
    ) -> Any:
        parts = path.split("/") if path else []
        next_base = f"{base_url}/{path}"
        world, state = self.state.world, self.state
        spec = parse_fields(params.get("fields"))
        if not parts:
            if method == "POST":
                return self._batch(params, base_url, authorization, version)
            return self._multi(params, record)
        head, edge = parts[0], parts[1] if len(parts) > 1 else None
        if len(parts) > 2:
            raise GraphError(400, 2500, f"Unknown path components: /{'/'.join(parts[1:])}")
        if leads_api.owns(state, head, edge):  # pages, lead forms, leads (Lead Ads)
            return leads_api.read(state, method, head, edge, params, record, next_base=next_base)
        if head == "me":
            user = world.users[record.user_id]
            if edge is None:
                return select_fields(
                    {"id": user.id, "name": user.name}, spec, ALLOWED["user"], NODE_TYPES["user"]
                )
            if edge == "adaccounts":
                spec = spec or parse_fields(DEFAULT_FIELDS["adaccounts"])
                accounts = [world.accounts[a] for a in user.account_ids]
                return paginate(
                    accounts,
                    lambda a: a["id"],
                    lambda a: select_fields(a, spec, ALLOWED["account"], NODE_TYPES["account"]),
                    params,
                    next_base=next_base,
                    token=record.token,
                    faults=state.faults,
                )
        elif head.startswith("act_"):
            account = self._account(record, head[4:])
            if edge is None:
                return select_fields(account, spec, ALLOWED["account"], NODE_TYPES["account"])
            if edge in EDGES:
                kind = KIND_OF_EDGE[edge]
                objects = filter_objects(
                    world.edge(account["account_id"], edge),
                    params,
                    hide_by_default=edge != "adcreatives",
                )
                return paginate(
                    objects,
                    lambda o: o["id"],
                    lambda o: select_fields(self._expand(o), spec, ALLOWED[kind], NODE_TYPES[kind]),
                    params,
                    next_base=next_base,
                    token=record.token,
                    faults=state.faults,
                )
            if edge in library_api.LIBRARY_EDGES:
                return library_api.read(
                    state,
                    account["account_id"],
                    edge,
                    params,
                    next_base=next_base,
                    token=record.token,
                )
            if edge == "insights":
                if method == "POST":
                    return insights_api.start_job(state, account["account_id"], params)
                return insights_api.read(
                    state, account["account_id"], params, next_base=next_base, token=record.token
                )
            if edge == "subscribed_apps":
                apps = state.subscribed_apps.setdefault(account["account_id"], [])
                if method == "POST":
                    if state.config.app_id not in apps:
                        apps.append(state.config.app_id)
                    return {"success": True}
                return {"data": [{"id": app_id, "name": "metasync"} for app_id in apps]}
        elif head == state.config.app_id and edge == "subscriptions":
            if method == "POST":
                state.app_subscriptions[str(params.get("object", "ad_account"))] = {
                    "object": params.get("object", "ad_account"),
                    "callback_url": params.get("callback_url"),
                    "fields": [f for f in str(params.get("fields", "")).split(",") if f],
                    "verify_token": params.get("verify_token"),
                    "active": True,
                }
                return {"success": True}
            return {
                "data": [
                    {k: v for k, v in sub.items() if k != "verify_token"}
                    for sub in state.app_subscriptions.values()
                ]
            }
        elif head in state.jobs.jobs:
            job = state.jobs.jobs[head]
            self._account(record, job.account_id)
            if edge is None:
                if state.jobs.clock() < job.visible_after:
                    raise not_found(head)
                return state.jobs.status(job, version)
            if edge == "insights":
                return insights_api.job_results(
                    state, head, params, next_base=next_base, token=record.token
                )
        else:
            found = world.object(head)
            if found is None:
                raise not_found(head)
            kind, obj = found
            self._account(record, obj["account_id"])
            if edge is None:
                if method == "POST":
                    faults = self.state.faults
                    return writes_api.write_with_faults(
                        world, faults, record.scopes, kind, obj, params
                    )
                return select_fields(self._expand(obj), spec, ALLOWED[kind], NODE_TYPES[kind])
            children = CHILD_EDGES.get((kind, edge))
            if children is not None:  # a campaign's ad sets and ads, an ad set's ads
                child_kind, parent_field = children
                objects = filter_objects(
                    [
                        o
                        for o in world.edge(obj["account_id"], edge)
                        if o[parent_field] == obj["id"]
                    ],
                    params,
                )
                return paginate(
                    objects,
                    lambda o: o["id"],
                    lambda o: select_fields(
                        self._expand(o), spec, ALLOWED[child_kind], NODE_TYPES[child_kind]
                    ),
                    params,
                    next_base=next_base,
                    token=record.token,
                    faults=state.faults,
                )
            if edge == "insights" and kind != "adcreative":
                return insights_api.read(
                    state,
                    obj["account_id"],
                    params,
                    next_base=next_base,
                    token=record.token,
                    scope={**obj, "_kind": kind},
                )
        raise GraphError(400, 2500, f"Unknown path components: /{path}")

    def _expand(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An ad with its creative's fields, so ``creative{title,body}`` can be asked for."""
        creative = obj.get("creative")
        if isinstance(creative, dict) and creative.get("id") in self.state.world.creatives:
            return {**obj, "creative": self.state.world.creatives[creative["id"]]}
        return obj

    def _multi(self, params: Mapping[str, Any], record: TokenRecord) -> dict[str, Any]:
        spec = parse_fields(params.get("fields"))

        def read_one(object_id: str) -> dict[str, Any] | None:
            if object_id.startswith("act_"):
                account = self._account(record, object_id[4:])
                return select_fields(account, spec, ALLOWED["account"], NODE_TYPES["account"])
            found = self.state.world.object(object_id)
            if found is None:
                return None
            kind, obj = found
            self._account(record, obj["account_id"])
            return select_fields(obj, spec, ALLOWED[kind], NODE_TYPES[kind])

        return multi_id_read(str(params.get("ids", "")), read_one)

    def _batch(
        self, params: Mapping[str, Any], base_url: str, authorization: str | None, version: str
    ) -> list[Any]:
        try:
            requests = json.loads(str(params.get("batch", "")))
        except ValueError:
            raise GraphError(
                400, 100, "(#100) batch must be a JSON array", error_type="GraphMethodException"
            ) from None
        if not isinstance(requests, list) or len(requests) > 50:
            raise GraphError(
                400,
                100,
                "(#100) batch must be an array of at most 50 requests",
                error_type="GraphMethodException",
            )
        answers: list[Any] = []
        for inner in requests:
            if self.state.faults.chance(self.state.faults.batch_null_rate):
                answers.append(None)
                continue
            relative = str(inner.get("relative_url", "")) if isinstance(inner, dict) else ""
            path, _, query = relative.partition("?")
            inner_params = dict(parse_qsl(query, keep_blank_values=True))
            for name in ("access_token", "appsecret_proof"):
                if params.get(name):
                    inner_params.setdefault(name, params[name])
            if isinstance(inner, dict) and inner.get("body"):
                inner_params.update(parse_qsl(str(inner["body"])))
            reply = self.handle(
                str(inner.get("method", "GET")) if isinstance(inner, dict) else "GET",
                path,
                inner_params,
                authorization,
                base_url,
                version=version,
                in_batch=True,
            )
            answers.append(
                {
                    "code": reply.status,
                    "body": json.dumps(reply.body),
                    "headers": [{"name": k, "value": v} for k, v in reply.headers.items()],
                }
            )
        return answers
