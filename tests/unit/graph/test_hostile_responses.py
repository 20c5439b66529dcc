"""Property-based: hostile Graph answers never crash the client with anything but its types."""

from __future__ import annotations

import json
from typing import Any

import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from metasync.graph import MetaAPIError, error_from_response, iter_pages, parse_usage_headers
from tests.unit.graph.helpers import BASE, make_client

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "error",
                    "code",
                    "error_subcode",
                    "message",
                    "data",
                    "paging",
                    "next",
                    "cursors",
                    "after",
                    "id",
                    "type",
                    "is_transient",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
BODIES = st.one_of(JSON.map(json.dumps), st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "X-App-Usage",
            "X-Ad-Account-Usage",
            "X-Business-Use-Case-Usage",
            "X-FB-Ads-Insights-Throttle",
            "Retry-After",
        ]
    ),
    st.one_of(JSON.map(json.dumps), st.text(max_size=30)),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(status=st.integers(100, 599), body=st.one_of(JSON, BODIES), headers=HEADERS)
def test_error_mapping_always_gives_a_typed_error(
    status: int, body: Any, headers: dict[str, str]
) -> None:
    error = error_from_response(status, body, headers)
    assert isinstance(error, MetaAPIError)
    assert str(error)


@settings(max_examples=300, deadline=None)
@given(headers=HEADERS)
def test_usage_headers_never_fail(headers: dict[str, str]) -> None:
    report = parse_usage_headers(headers)
    assert isinstance(report.max_pct(), float)
    assert all(
        isinstance(entry.business_id, str) and isinstance(entry.regain_seconds, float)
        for entry in report.business
    )


@settings(max_examples=80, deadline=None)
@given(
    status=st.sampled_from([200, 200, 200, 400, 500, 503]),
    pages=st.lists(BODIES, min_size=1, max_size=4),
)
def test_paging_over_hostile_answers_ends_with_pages_or_a_typed_error(
    status: int, pages: list[str]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for body in pages:
            mock.get(f"{BASE}/act_1/ads", body=body, status=status)
        client, _ = make_client(max_retries=1)
        try:
            for page in iter_pages(client, "act_1/ads", limit=10, max_pages=10):
                assert isinstance(page.items, list)
                assert all(isinstance(item, dict) for item in page.items)
        except MetaAPIError:
            pass
