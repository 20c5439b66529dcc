"""The sandbox's control API for Lead Ads (under ``/_sandbox/``):

- ``GET /ground-truth/leads``: how many leads each ad produced, organic leads per form, the
  forms, the pages and the total (:func:`metasync.sandbox.leads.lead_truth`).
- ``POST /leads/new`` ``{"form_id", "count": 1, "notify": true, "callback_url"?, "times": 1}``:
  people send the form now; with ``notify`` each new lead is announced by the Page webhook's
  ``leadgen`` change (Meta's "Webhooks for Pages"), signed like every delivery, to
  ``callback_url``, else the app's ``page`` subscription once the page subscribed the app to
  ``leadgen`` (``/{page-id}/subscribed_apps``; nothing is sent otherwise). Without
  ``notify`` the leads are only there to be read: a gap a backfill must close.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from metasync.sandbox.leads import lead_truth, leadgen_notification, new_leads
from metasync.sandbox.state import SandboxState
from metasync.sandbox.webhooks import deliver

__all__ = ["lead_routes"]


def _subscribed_url(state: SandboxState, form_id: str) -> str | None:
    """Where Meta would send the form's page's ``leadgen`` changes: the app's ``page``
    subscription with ``leadgen``, once the page subscribed the app to that field."""
    page_id = state.world.leads.forms[form_id]["page_id"]
    app = state.app_subscriptions.get("page") or {}
    fields = state.page_subscriptions.get(page_id, {}).get(state.config.app_id, [])
    if "leadgen" in fields and "leadgen" in app.get("fields", []):
        return str(app.get("callback_url") or "") or None
    return None


def lead_routes(state: SandboxState) -> list[Route]:
    """The routes above, bound to ``state``."""

    async def truth(_: Request) -> Response:
        return JSONResponse(lead_truth(state.world))

    async def create(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or str(body.get("form_id")) not in state.world.leads.forms:
            return JSONResponse({"error": "leads/new needs a known form_id"}, status_code=400)
        count = int(body.get("count", 1))
        created = new_leads(state.world, str(body["form_id"]), count, datetime.now(UTC))
        result: dict[str, Any] = {"leads": [lead["id"] for lead in created], "webhooks": []}
        if body.get("notify", True):
            url = body.get("callback_url") or _subscribed_url(state, body["form_id"])
            for lead in created:
                payload = leadgen_notification(lead)
                if not url:
                    result["webhooks"].append({"sent": False, "payload": payload})
                    continue
                statuses = await asyncio.to_thread(
                    deliver, url, payload, state.config.app_secret, times=int(body.get("times", 1))
                )
                state.webhooks_sent.append({"url": url, "payload": payload, "statuses": statuses})
                result["webhooks"].append({"sent": True, "statuses": statuses, "payload": payload})
        return JSONResponse(result)

    return [
        Route("/ground-truth/leads", truth),
        Route("/leads/new", create, methods=["POST"]),
    ]
