"""Driving the console as a browser would: read a form's CSRF token, post with the console's
own Origin (``http://testserver`` for the in-process client)."""

from __future__ import annotations

import re
from typing import Any

import requests

ORIGIN = "http://testserver"
TOKEN = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = TOKEN.search(html)
    assert found is not None, "the page has a form with a CSRF token"
    return found.group(1)


def _not_followed(client: Any) -> dict[str, bool]:
    """Keep a redirect as the answer (requests and httpx spell it differently)."""
    if isinstance(client, requests.Session):
        return {"allow_redirects": False}
    return {"follow_redirects": False}


def login(
    client: Any,
    password: str,
    user: str = "ops",
    next: str = "/console",
    base: str = "",
    origin: str = ORIGIN,
) -> Any:
    """Open the login form, then post it as the browser does (no redirect followed)."""
    token = csrf_of(client.get(f"{base}/console/login").text)
    return client.post(
        f"{base}/console/login",
        data={"username": user, "password": password, "next": next, "csrf": token},
        headers={"Origin": origin},
        **_not_followed(client),
    )


def post_form(
    client: Any, path: str, data: dict[str, str], page: str, base: str = "",
    origin: str = ORIGIN, **options: Any,
) -> Any:  # fmt: skip
    """Post ``data`` to ``path`` with the CSRF token of ``page`` (where its form is)."""
    token = csrf_of(client.get(f"{base}{page}").text)
    return client.post(
        f"{base}{path}", data={**data, "csrf": token}, headers={"Origin": origin}, **options
    )
