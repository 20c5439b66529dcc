"""The sandbox's ASGI app: the Graph API under ``/{version}/`` and the control API under
``/_sandbox/``.

The app runs in one process (uvicorn): the world, counters and jobs live in its memory, so every
client process sees one consistent world. Handlers do their (short) work on the event loop;
injected latency is an ``asyncio.sleep``, so slow answers do not hold up other clients.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from metasync.sandbox.errors import GraphError
from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.feature_settings import handle_feature_settings
from metasync.sandbox.fx import ecb_history
from metasync.sandbox.graph_api import GraphAPI
from metasync.sandbox.ground_truth import ground_truth, report_truth
from metasync.sandbox.leads_control import lead_routes
from metasync.sandbox.mutations import MutationError, add_today, mutate
from metasync.sandbox.state import SandboxState
from metasync.sandbox.tokens_api import authenticate
from metasync.sandbox.usage import Budgets
from metasync.sandbox.versions import auto_upgrade, version_number
from metasync.sandbox.webhooks import deliver, notification

__all__ = ["build_app"]

LEVEL_NAMES = {"campaign": "CAMPAIGN", "adset": "AD_SET", "ad": "AD"}


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method in ("POST", "PUT"):
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if body and "json" in content_type:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                params.update(parsed)
        elif body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _problem(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _bearer_token(authorization: str | None, params: dict[str, Any]) -> str | None:
    """The token of ``Authorization: Bearer`` (Meta's samples for the Feature Settings API), or
    of ``access_token`` as on the Graph API."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = params.get("access_token")
    return str(token) if token else None


def _version_error(version: str, latest: str) -> GraphError:
    """What Meta answers for a version it does not serve: an expired one gets (#2635) naming
    the latest version (Marketing API changelog, "Versions"); a name that is no version at all,
    or one newer than any released, is an unknown path (2500)."""
    number, newest = version_number(version), version_number(latest)
    if number is not None and newest is not None and number < newest:
        return GraphError(
            400,
            2635,
            "(#2635) You are calling a deprecated version of the Ads API. Please update to the "
            f"latest version: {latest}.",
        )
    return GraphError(400, 2500, f"Unknown path components: /{version}")


def build_app(state: SandboxState) -> Starlette:
    graph = GraphAPI(state)

    async def graph_endpoint(request: Request) -> Response:
        version = request.path_params["version"]
        path = request.path_params.get("path", "")
        params = await _params(request)
        base_url = f"{str(request.base_url).rstrip('/')}/{version}"
        warning: dict[str, str] = {}
        if version not in state.config.api_versions:
            upgrade = (
                auto_upgrade(version, state.config.api_versions)
                if state.config.auto_upgrade_versions
                else None
            )
            if upgrade is None:
                error = _version_error(version, state.config.latest_version)
                state.counters.by_error_code[str(error.code)] += 1
                return JSONResponse(error.body(), status_code=error.status)
            version, warning = upgrade
        reply = graph.handle(
            request.method,
            path,
            params,
            request.headers.get("authorization"),
            base_url,
            version=version,
        )
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        headers = {**reply.headers, **warning} if warning else reply.headers
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def info(request: Request) -> Response:
        return JSONResponse(state.info(str(request.base_url).rstrip("/")))

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def ecb_rates(_: Request) -> Response:
        today = datetime.now(UTC).date()
        return PlainTextResponse(ecb_history(state.world.seed, today), media_type="text/csv")

    async def truth(request: Request) -> Response:
        levels = tuple(request.query_params.get("levels", "account,campaign,adset,ad").split(","))
        return JSONResponse(ground_truth(state.world, levels))

    async def report_truth_endpoint(request: Request) -> Response:
        body = await request.json()
        rows = report_truth(
            state.world,
            body["report"],
            str(body["account_id"]),
            date.fromisoformat(body["since"]),
            date.fromisoformat(body["until"]),
        )
        return JSONResponse(rows)

    async def counters(request: Request) -> Response:
        if request.method == "POST":
            state.counters = type(state.counters)()
        return JSONResponse(state.counters.as_dict())

    async def faults(request: Request) -> Response:
        if request.method in ("PUT", "POST"):
            try:
                changes = await _json_body(request)
                state.faults = (
                    FaultProfile.from_dict(changes)
                    if request.method == "PUT"
                    else state.faults.merged(changes)
                )
            except (ValueError, TypeError) as exc:
                return _problem(str(exc))
        return JSONResponse(state.faults.as_dict())

    async def budgets(request: Request) -> Response:
        if request.method in ("PUT", "POST"):
            try:
                changes = await _json_body(request)
                if request.method == "PUT":  # a new set of budgets starts counting afresh
                    state.usage = state.new_usage(Budgets(**changes))
                else:
                    state.usage.budgets = Budgets(**{**state.usage.budgets.__dict__, **changes})
            except (ValueError, TypeError) as exc:
                return _problem(str(exc))
        return JSONResponse(state.usage.budgets.__dict__)

    async def mutate_endpoint(request: Request) -> Response:
        try:
            body = await _json_body(request)
            obj = mutate(
                state.world, str(body.get("id")), str(body.get("action")), body.get("fields")
            )
        except (ValueError, MutationError) as exc:
            return _problem(str(exc))
        result: dict[str, Any] = {"object": obj}
        if body.get("notify"):
            kind = state.world.object(obj["id"])[0]  # type: ignore[index]
            field = "with_issues_ad_objects" if obj.get("issues_info") else "in_process_ad_objects"
            value: dict[str, Any] = {"id": obj["id"], "level": LEVEL_NAMES.get(kind, kind.upper())}
            if field == "in_process_ad_objects":
                value["status"] = "SUCCESS"
            else:
                value.update(
                    {
                        k: obj["issues_info"][0][k]
                        for k in ("error_code", "error_summary", "error_message")
                    }
                )
            result["webhook"] = await _send(
                body.get("callback_url"), obj["account_id"], field, value, int(body.get("times", 1))
            )
        return JSONResponse(result)

    async def _send(
        callback: str | None, account_id: str, field: str, value: dict[str, Any], times: int
    ) -> dict[str, Any]:
        url = callback or (state.app_subscriptions.get("ad_account") or {}).get("callback_url")
        payload = notification(account_id, field, value)
        if not url:
            return {
                "sent": False,
                "reason": "no callback_url given and no app subscription",
                "payload": payload,
            }
        statuses = await asyncio.to_thread(
            deliver, url, payload, state.config.app_secret, times=times
        )
        state.webhooks_sent.append({"url": url, "payload": payload, "statuses": statuses})
        return {"sent": True, "statuses": statuses, "payload": payload}

    async def send_webhook(request: Request) -> Response:
        try:
            body = await _json_body(request)
            account_id, field = str(body["account_id"]), str(body["field"])
            value = body.get("value") or {}
        except (ValueError, KeyError) as exc:
            return _problem(f"send needs account_id, field and value: {exc}")
        return JSONResponse(
            await _send(
                body.get("callback_url"), account_id, field, value, int(body.get("times", 1))
            )
        )

    async def today(request: Request) -> Response:
        try:
            body = await _json_body(request) if await request.body() else {}
            changed = add_today(state.world, body.get("account_id"))
        except (ValueError, MutationError) as exc:
            return _problem(str(exc))
        return JSONResponse({"accounts": changed})

    async def expire_token(request: Request) -> Response:
        """Set when a user's tokens expire (``what``: ``token``, the default, or
        ``data_access``), ``in_seconds`` from now (default 0: at once)."""
        try:
            body = await _json_body(request)
            seconds = float(body.get("in_seconds", 0))
        except (ValueError, TypeError) as exc:
            return _problem(str(exc))
        user_id, token, what = body.get("user_id"), body.get("token"), body.get("what", "token")
        if not user_id and not token:
            return _problem("expire needs user_id or token")
        if what not in ("token", "data_access"):
            return _problem("what must be token or data_access")
        moment = datetime.now(UTC) + timedelta(seconds=seconds)
        expired = set()
        for record in state.tokens.values():
            if record.user_id == user_id or record.token == token:
                if what == "token":
                    record.expires_at = moment
                else:
                    record.data_access_expires_at = moment
                expired.add(record.user_id)
        return JSONResponse({"expired_users": sorted(expired), "at": moment.isoformat()})

    async def token_scopes(request: Request) -> Response:
        """Set what a token's person granted (``scopes``: a list, e.g. ``["ads_read"]`` for a
        token that reads but cannot manage ads)."""
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return _problem(str(exc))
        record = state.tokens.get(str(body.get("token", "")))
        scopes = body.get("scopes")
        if record is None:
            return _problem("no such token")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            return _problem("scopes must be a list of permission names")
        record.scopes = frozenset(scopes)
        return JSONResponse({"scopes": sorted(record.scopes)})

    async def user_accounts(request: Request) -> Response:
        """Grant or take away ad accounts of a user (``{"user_id", "add": [...], "remove":
        [...]}``, numeric ids): what an agency's Business Manager does to a token's accounts."""
        try:
            body = await _json_body(request)
            user = state.world.users[str(body["user_id"])]
        except (ValueError, KeyError) as exc:
            return _problem(f"accounts needs a known user_id: {exc}")
        unknown = [a for a in body.get("add") or [] if a not in state.world.accounts]
        if unknown:
            return _problem(f"unknown ad account(s): {', '.join(unknown)}")
        for account_id in body.get("add") or []:
            if account_id not in user.account_ids:
                user.account_ids.append(account_id)
        user.account_ids[:] = [
            a for a in user.account_ids if a not in set(body.get("remove") or [])
        ]
        return JSONResponse({"user_id": user.id, "ad_account_ids": list(user.account_ids)})

    async def opt_in(request: Request) -> Response:
        """An account opts in to (or out of) the opt-in breakdowns, as its advertiser would in
        Ads Manager (``{"account_id": "123", "opted_in": true}``)."""
        try:
            body = await _json_body(request)
            account_id = str(body["account_id"]).removeprefix("act_")
        except (ValueError, KeyError) as exc:
            return _problem(f"opt-in needs an account_id: {exc}")
        if account_id not in state.world.accounts:
            return _problem(f"unknown ad account {account_id}")
        now = datetime.now(UTC)
        if body.get("opted_in", True):
            state.features.enable_all_now(account_id, now)
        else:
            state.features.enabled_at.pop(account_id, None)
        opted = state.features.all_in_effect(account_id, now)
        return JSONResponse({"account_id": account_id, "opted_in": opted})

    async def features_elapse(request: Request) -> Response:
        """Let hours pass for the Feature Settings API's 24-hour delay (``{"hours": 24}``)."""
        try:
            hours = float((await _json_body(request))["hours"])
        except (ValueError, KeyError, TypeError) as exc:
            return _problem(f"elapse needs hours: {exc}")
        state.features.elapse(hours)
        return JSONResponse({"elapsed_hours": hours})

    async def ads_api_endpoint(request: Request) -> Response:
        """Meta's Feature Settings API on its own host: ``/ads-api/<version>/marketing-api/...``
        here (``https://ads-api.facebook.com/<version>/marketing-api/...`` at Meta)."""
        version = request.path_params["version"]
        path = request.path_params.get("path", "")
        params = await _params(request)
        state.counters.total += 1
        state.counters.by_path[state.counters.normalize(request.method, f"ads-api/{path}")] += 1
        try:
            if version not in state.config.api_versions:
                raise _version_error(version, state.config.latest_version)
            token = _bearer_token(request.headers.get("authorization"), params)
            record = authenticate(state, token, params)
            user = state.world.users[record.user_id]
            body = handle_feature_settings(
                state.features,
                request.method,
                path,
                params,
                user.account_ids,
                record.scopes,
                datetime.now(UTC),
            )
            status = 200
        except GraphError as error:
            state.counters.by_error_code[str(error.code)] += 1
            body, status = error.body(), error.status
        state.counters.by_status[str(status)] += 1
        return JSONResponse(body, status_code=status)

    control = [
        Route("/info", info),
        Route("/opt-in", opt_in, methods=["POST"]),
        Route("/feature-settings/elapse", features_elapse, methods=["POST"]),
        Route("/health", health),
        Route("/ecb/eurofxref-hist.csv", ecb_rates),
        Route("/ground-truth", truth),
        Route("/ground-truth/report", report_truth_endpoint, methods=["POST"]),
        Route("/counters", counters, methods=["GET", "POST"]),
        Route("/faults", faults, methods=["GET", "PUT", "POST"]),
        Route("/budgets", budgets, methods=["GET", "PUT", "POST"]),
        Route("/mutate", mutate_endpoint, methods=["POST"]),
        Route("/webhooks/send", send_webhook, methods=["POST"]),
        Route("/insights/today", today, methods=["POST"]),
        Route("/tokens/expire", expire_token, methods=["POST"]),
        Route("/tokens/scopes", token_scopes, methods=["POST"]),
        Route("/users/accounts", user_accounts, methods=["POST"]),
        *lead_routes(state),
    ]
    methods = ["GET", "POST", "DELETE"]
    return Starlette(
        routes=[
            Mount("/_sandbox", routes=control),
            Route(
                "/ads-api/{version}/marketing-api/{path:path}", ads_api_endpoint, methods=methods
            ),
            Route("/{version}/{path:path}", graph_endpoint, methods=methods),
            Route("/{version}", graph_endpoint, methods=methods),
        ]
    )
