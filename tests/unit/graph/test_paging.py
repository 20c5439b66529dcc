"""Pagination: empty pages with next, repeated cursors, reduce-data, invalid cursors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from metasync.graph import InvalidCursorError, TransientError, iter_pages
from tests.unit.graph.helpers import BASE, TOKEN, error_body, make_client

URL = f"{BASE}/act_1/ads"
REDUCE = error_body(1, message="Please reduce the amount of data you're asking for, then retry")


def page(ids: list[int], after: str | None) -> dict[str, object]:
    body: dict[str, object] = {"data": [{"id": str(i)} for i in ids]}
    if after is not None:
        body["paging"] = {
            "cursors": {"after": after},
            "next": f"{URL}?access_token={TOKEN}&limit=2&after={after}",
        }
    return body


def sent(index: int) -> dict[str, list[str]]:
    return parse_qs(urlsplit(responses.calls[index].request.url).query)


@responses.activate
def test_follows_next_through_empty_pages_until_it_disappears() -> None:
    responses.get(
        URL, json=page([1, 2], "c1"), match=[matchers.query_param_matcher({}, strict_match=False)]
    )
    responses.get(URL, json=page([], "c2"))
    responses.get(URL, json=page([], "c3"))
    responses.get(URL, json=page([3], None))
    client, _ = make_client()
    pages = list(iter_pages(client, "act_1/ads", {"fields": "id"}, limit=2))
    assert [[item["id"] for item in p.items] for p in pages] == [["1", "2"], [], [], ["3"]]
    assert [p.after for p in pages] == ["c1", "c2", "c3", None]
    assert [sent(i).get("after") for i in range(4)] == [None, ["c1"], ["c2"], ["c3"]]
    for index in range(4):
        assert "access_token" not in sent(index)
        assert sent(index)["fields"] == ["id"]


@responses.activate
def test_stops_on_a_repeated_cursor() -> None:
    responses.get(URL, json=page([1], "c1"))
    responses.get(URL, json=page([2], "c2"))
    responses.get(URL, json=page([3], "c1"))  # Meta loops back
    responses.get(URL, json=page([4], "c2"))  # never asked for
    client, _ = make_client()
    pages = list(iter_pages(client, "act_1/ads", limit=2, max_pages=20))
    assert [p.items[0]["id"] for p in pages] == ["1", "2", "3"]
    assert len(responses.calls) == 3
    assert client.stats.repeated_cursors == 1


@responses.activate
def test_reduce_data_halves_limit_then_restores_it() -> None:
    responses.get(URL, json=REDUCE, status=500)  # limit 100
    responses.get(URL, json=REDUCE, status=500)  # limit 50
    responses.get(URL, json=page([1], "c1"))  # limit 25
    responses.get(URL, json=page([2], "c2"))  # limit 50
    responses.get(URL, json=page([3], "c3"))  # limit 100
    responses.get(URL, json=page([4], None))  # limit 100
    client, sleeper = make_client()
    pages = list(iter_pages(client, "act_1/ads", limit=100))
    assert [sent(i)["limit"] for i in range(6)] == [
        ["100"],
        ["50"],
        ["25"],
        ["50"],
        ["100"],
        ["100"],
    ]
    assert [p.limit for p in pages] == [25, 50, 100, 100]
    assert sleeper.delays == []  # reduce-data is not a transient retry


@responses.activate
def test_reduce_data_at_the_minimum_limit_gives_a_transient_error() -> None:
    responses.get(URL, json=REDUCE, status=500)
    client, _ = make_client()
    with pytest.raises(TransientError, match="less data"):
        list(iter_pages(client, "act_1/ads", limit=4, min_limit=1))
    assert [sent(i)["limit"] for i in range(len(responses.calls))] == [["4"], ["2"], ["1"]]


@responses.activate
def test_invalid_cursor_restarts_the_listing_once() -> None:
    responses.get(URL, json=page([1], "c1"))
    responses.get(URL, json=error_body(2642), status=400)
    responses.get(URL, json=page([1], "c1"))
    responses.get(URL, json=page([2], None))
    client, _ = make_client()
    pages = list(iter_pages(client, "act_1/ads", limit=2))
    assert [[i["id"] for i in p.items] for p in pages] == [["1"], ["1"], ["2"]]
    assert "after" not in sent(2)


@responses.activate
def test_invalid_cursor_twice_is_raised() -> None:
    responses.get(URL, json=error_body(2642), status=400)
    client, _ = make_client()
    with pytest.raises(InvalidCursorError):
        list(iter_pages(client, "act_1/ads", after="stale"))


@responses.activate
def test_resume_after_a_cursor_and_bound_the_pages() -> None:
    responses.get(URL, json=page([5], "c6"))
    responses.get(URL, json=page([6], "c7"))
    client, _ = make_client()
    pages = list(iter_pages(client, "act_1/ads", after="c5", max_pages=1))
    assert len(pages) == 1 and pages[0].after == "c6"
    assert sent(0)["after"] == ["c5"] and len(responses.calls) == 1


@responses.activate
def test_a_page_whose_data_is_not_a_list_yields_no_items() -> None:
    responses.get(URL, json={"data": True})
    client, _ = make_client()
    pages = list(iter_pages(client, "act_1/ads"))
    assert [p.items for p in pages] == [[]]
