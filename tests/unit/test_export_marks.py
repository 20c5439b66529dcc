"""The export's pure decisions about numbering and removals: whether a mark is a position in
an account's numbering (:func:`metasync.export.ordered.distrust`), and which removed keys are
still gone from the mirror (:func:`metasync.export.removed.still_gone`)."""

from __future__ import annotations

import pytest

from metasync.export.ordered import distrust
from metasync.export.removed import still_gone
from metasync.export.warehouse import Mark
from metasync.models import ALL_DOCUMENTS, ExportDeletion
from metasync.models.numbering import NUMBERED_COLLECTIONS, Position

NOW = Position(watermark=8, epoch="e1", last=9)


@pytest.mark.parametrize(
    ("mark", "why"),
    [
        (None, None),
        (Mark(5, "", "e1"), None),
        (Mark(9, "abc", "e1"), None),
        (Mark(None, ""), "a mark by the writers' clocks"),
        (Mark(5, "", "e0"), "another numbering of the account"),
        (Mark(5, "", ""), "another numbering of the account"),
        (Mark(12, "", "e1"), "a mark (12) past the last number given (9)"),
    ],
)
def test_a_mark_is_trusted_only_as_a_position_in_the_numbering_as_it_stands(
    mark: Mark | None, why: str | None
) -> None:
    assert distrust(mark, NOW) == why


def test_an_earlier_metasyncs_numbering_and_marks_agree() -> None:
    assert distrust(Mark(3, "", ""), Position(4, "", 3)) is None


def test_a_removed_key_the_mirror_holds_again_is_not_deleted() -> None:
    deletions = [
        {"source": "daily", "key": {"level": "ad", "entity_id": "1", "date": "2026-11-01"}},
        {"source": "daily", "key": {"level": "ad", "entity_id": "2", "date": "2026-11-01"}},
        {"source": "daily", "key": {"level": "ad", "entity_id": "2", "date": "2026-11-01"}},
        {
            "source": "reports",
            "key": {
                "report": "placement",
                "level": "ad",
                "entity_id": "2",
                "span": "2026-11-01",
                "breakdown_key": "b",
                "attribution_key": "default",
            },
        },
    ]
    held = {"daily": {("ad", "1", "2026-11-01")}}
    assert still_gone(deletions, held) == {
        "daily": [("ad", "2", "2026-11-01")],
        "reports": [("placement", "ad", "2", "2026-11-01", "b", "default")],
    }


def test_a_new_numbering_starts_above_every_numbered_collection() -> None:
    numbered = {d._meta["collection"] for d in ALL_DOCUMENTS if getattr(d, "numbered", False)}
    assert set(NUMBERED_COLLECTIONS) == numbered | {ExportDeletion._meta["collection"]}
