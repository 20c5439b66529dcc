"""A page stops at its row limit or its character budget, whichever comes first, and its
cursor resumes right after the last row it gave."""

from __future__ import annotations

import json

from metasync.api.common import decode_cursor
from metasync.mcp.bounds import MAX_CHARS, page


def _row(item: int) -> dict[str, object]:
    return {"id": f"{item:04d}", "name": "x" * 1000}


def test_a_page_stops_at_its_character_budget_with_a_cursor_after_its_last_row() -> None:
    found = list(range(101))
    answer = page(found, 100, _row, lambda item: [f"{item:04d}"])
    rows = answer["rows"]
    assert 0 < len(rows) < 100 and answer["truncated"] is True
    assert len(json.dumps(answer)) <= MAX_CHARS + 200
    assert decode_cursor(answer["next_cursor"], 1) == [rows[-1]["id"]]


def test_a_page_stops_at_its_limit_and_gives_no_cursor_when_nothing_follows() -> None:
    small = page(list(range(11)), 10, lambda i: {"id": str(i)}, lambda i: [str(i)])
    assert len(small["rows"]) == 10 and decode_cursor(small["next_cursor"], 1) == ["9"]
    last = page(list(range(3)), 10, lambda i: {"id": str(i)}, lambda i: [str(i)])
    assert last["next_cursor"] is None and last["truncated"] is False


def test_one_row_larger_than_the_budget_still_comes_whole() -> None:
    huge = page([1, 2], 10, lambda i: {"text": "y" * (MAX_CHARS * 2)}, lambda i: [str(i)])
    assert len(huge["rows"]) == 1 and len(huge["rows"][0]["text"]) == MAX_CHARS * 2
    assert decode_cursor(huge["next_cursor"], 1) == ["1"]
