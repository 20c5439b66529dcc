"""Values a destination cannot hold, handled row by row so that one never blocks the rest.

- **Characters a destination refuses in text** are removed and counted per table: PostgreSQL
  refuses NUL (U+0000) in ``text`` and ``jsonb``, and no destination can store a lone UTF-16
  surrogate (U+D800-U+DFFF: not encodable as UTF-8). JSON values are cleaned inside (keys and
  strings) before they are encoded.
- **Numbers that do not fit the column's type** (an object id beyond 64 bits in a ``bigint``)
  and **text in an integer column** (an id that is not a number at all, such as ``c1``:
  :func:`~metasync.export.fivetran.number_id` keeps it as text rather than guessing one) set
  their row aside; the row is named (table, key, column, value) and the rest of its batch is
  written. Every destination's integer columns are checked, whatever their ``ranges``.
- **A mirror value that is no number at all** (text in a budget, a cost or a count, a fraction
  of an impression), or **no day** in a ``date`` column, stands in its column as
  :class:`Unconvertible` (the kind of value, never the value) and sets its row aside the same
  way, named with that kind.

Counts and names are kept per transaction and folded in at commit, so a batch that is rolled
back and read again is not counted twice: :attr:`Values.removed` and :attr:`Values.rejected`
describe what committed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import partial
from operator import is_not, itemgetter
from typing import Any

from metasync.export.tables import Table

__all__ = [
    "INTEGER_KINDS",
    "INTEGER_RANGES",
    "NUL_AND_SURROGATES",
    "NUMBER_KINDS",
    "SURROGATES",
    "Unconvertible",
    "Values",
]

SURROGATES = re.compile("[\ud800-\udfff]")
NUL_AND_SURROGATES = re.compile("[\x00\ud800-\udfff]")
INTEGER_RANGES = {"bigint": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
INTEGER_KINDS = frozenset({"bigint", "integer"})  # text there is set aside in every destination
NUMBER_KINDS = frozenset({"double", "numeric"})  # an Unconvertible there is set aside
CONVERTED_KINDS = NUMBER_KINDS | {"date"}  # kinds read from the mirror by metasync.export.numbers
MAX_REJECTED = 100  # rows named per export; more are counted


class Unconvertible(str):
    """Stands in a numeric column for a mirror value that could not be read as that column's
    number, so that its row is set aside and named rather than its whole batch failing. Its
    text is the kind of value the mirror holds (``text``, ``fraction``, ``NaN``, ``list``),
    never the value: the name goes on the run, the log and the console, and a mirror field
    may hold anything. Made by :mod:`metasync.export.fivetran`."""


class Values:
    """One destination's checks: ``refused`` characters in text, ``ranges`` of numeric kinds
    (inclusive bounds)."""

    def __init__(
        self,
        refused: re.Pattern[str] = SURROGATES,
        ranges: Mapping[str, tuple[int | Decimal, int | Decimal]] = INTEGER_RANGES,
    ) -> None:
        self.refused, self.ranges = refused, ranges
        self._ascii_refused = [c for c in map(chr, range(128)) if refused.fullmatch(c)]
        self.removed: Counter[str] = Counter()  # characters removed per table, committed
        self.rejected: list[str] = []  # rows set aside, named, committed
        self.rejected_count = 0
        self._named: set[str] = set()
        self._removed_now: Counter[str] = Counter()
        self._rejected_now: list[str] = []

    def rows(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> Sequence[Sequence[Any]]:
        """``rows`` (values in ``columns`` order) fit for the destination: refused characters
        removed, rows with a number out of range left out (and named).

        The batch is checked a column at a time first (one search over a column's text joined,
        one min and max over an integer column); when that finds nothing, ``rows`` themselves
        are returned, not copied. Only a batch where something is found goes row by row, where
        rows are cleaned, counted and named. The joined search assumes ``refused`` matches
        single characters (as it must: each match is counted as one character removed), so a
        match in the joined text is a match in one of its values."""
        kinds = {c.name: c.kind for c in table.columns}
        texts = [i for i, c in enumerate(columns) if kinds[c] in ("text", "json")]
        checked = [
            (i, c, self.ranges.get(kinds[c]))
            for i, c in enumerate(columns)
            if kinds[c] in self.ranges or kinds[c] in INTEGER_KINDS or kinds[c] in CONVERTED_KINDS
        ]
        if all(_fits(rows, i, bounds, kinds[c]) for i, c, bounds in checked) and not any(
            self._refuses(rows, i) for i in texts
        ):
            return rows
        return self._row_by_row(table, columns, rows, kinds, texts, checked)

    def _refuses(self, rows: Sequence[Sequence[Any]], at: int) -> bool:
        """Whether some text of column ``at`` (JSON: its keys and strings) holds a refused
        character."""
        values = list(map(itemgetter(at), rows))
        strings = list(filter(str.__instancecheck__, values))
        if len(strings) + values.count(None) < len(values):  # JSON (or other) values
            strings.extend(_strings(v for v in values if v is not None and type(v) is not str))
        text = "".join(strings)
        if text.isascii():  # the usual case, and much quicker than the pattern's search
            return any(c in text for c in self._ascii_refused)
        return self.refused.search(text) is not None

    def _row_by_row(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        kinds: Mapping[str, str],
        texts: Sequence[int],
        checked: Sequence[tuple[int, str, tuple[int | Decimal, int | Decimal] | None]],
    ) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = []
        for row in rows:
            bad = next(
                (
                    (c, row[i], why)
                    for i, c, bounds in checked
                    if (why := _misfit(row[i], kinds[c], bounds)) is not None
                ),
                None,
            )
            if bad is not None:
                self._reject(table, columns, row, *bad)
                continue
            fitted: list[Any] | None = None
            for i in texts:
                cleaned, count = self._cleaned(row[i])
                if count:
                    self._removed_now[table.name] += count
                    fitted = fitted if fitted is not None else list(row)
                    fitted[i] = cleaned
            out.append(row if fitted is None else fitted)
        return out

    def _cleaned(self, value: Any) -> tuple[Any, int]:
        """``value`` without refused characters, and how many were removed (0: ``value``
        itself)."""
        if isinstance(value, str):
            cleaned, count = self.refused.subn("", value)
            return (cleaned, count) if count else (value, 0)
        if isinstance(value, list):
            parts = [self._cleaned(v) for v in value]
            count = sum(n for _, n in parts)
            return ([v for v, _ in parts], count) if count else (value, 0)
        if isinstance(value, dict):
            pairs = [(self._cleaned(k), self._cleaned(v)) for k, v in value.items()]
            count = sum(kn + vn for (_, kn), (_, vn) in pairs)
            return ({k: v for (k, _), (v, _) in pairs}, count) if count else (value, 0)
        return value, 0

    def _reject(
        self,
        table: Table,
        columns: Sequence[str],
        row: Sequence[Any],
        column: str,
        value: Any,
        why: str,
    ) -> None:
        key = ", ".join(f"{k}={row[columns.index(k)]}" for k in table.key if k in columns)
        named = key or f"{column}={value}"
        self._rejected_now.append(f"{table.name} row {named} not written: {column} {value} {why}")

    def problems(self) -> list[str]:
        """The rows set aside by committed batches, named (the first ``MAX_REJECTED``)."""
        more = self.rejected_count - len(self.rejected)
        return self.rejected + ([f"{more} more rows not written"] if more > 0 else [])

    def checkpoint(self) -> tuple[Counter[str], int]:
        """Where the open transaction's counts stand (for a savepoint)."""
        return Counter(self._removed_now), len(self._rejected_now)

    def back_to(self, checkpoint: tuple[Counter[str], int]) -> None:
        """Forget what was counted since ``checkpoint`` (its savepoint was rolled back)."""
        self._removed_now = Counter(checkpoint[0])
        del self._rejected_now[checkpoint[1] :]

    def commit(self) -> None:
        self.removed.update(self._removed_now)
        for name in self._rejected_now:
            if name in self._named:
                continue  # a row and its parent key name the same row
            self._named.add(name)
            self.rejected_count += 1
            if len(self.rejected) < MAX_REJECTED:
                self.rejected.append(name)
        self.rollback()

    def rollback(self) -> None:
        self._removed_now.clear()
        self._rejected_now.clear()


def _misfit(
    value: Any, kind: str, bounds: tuple[int | Decimal, int | Decimal] | None
) -> str | None:
    """Why ``value`` cannot be written into a column of ``kind`` (None: it can): a value the
    mirror held that is no number (:class:`Unconvertible`), text in an integer column, or a
    number outside ``bounds`` (inclusive)."""
    if isinstance(value, Unconvertible):
        wanted = {"date": "a date"}.get(kind, "an integer" if kind in INTEGER_KINDS else "a number")
        return f"is not {wanted} ({kind})"
    if isinstance(value, str) and kind in INTEGER_KINDS:
        return f"is not an integer ({kind})"
    if bounds is None or not isinstance(value, (int, Decimal)) or isinstance(value, bool):
        return None
    low, high = bounds
    return None if low <= value <= high else f"does not fit {kind}"


def _fits(
    rows: Sequence[Sequence[Any]],
    at: int,
    bounds: tuple[int | Decimal, int | Decimal] | None,
    kind: str,
) -> bool:
    """Whether no value of column ``at`` (of ``kind``) can misfit (:func:`_misfit`): the least
    and greatest of its values within ``bounds``, or (no bounds) none of them text (in an
    integer column) or :class:`Unconvertible` (in another). False also when the values do not
    compare (text among numbers) or the bounds do not hold them (text, NaN, other types): the
    caller then checks row by row, which is exact."""
    values = filter(partial(is_not, None), map(itemgetter(at), rows))
    if bounds is None:
        refused = str if kind in INTEGER_KINDS else Unconvertible
        return not any(map(refused.__instancecheck__, values))
    present = list(values)
    if not present:
        return True
    try:
        return bool(bounds[0] <= min(present) and max(present) <= bounds[1])
    except TypeError:
        return False


def _strings(values: Iterable[Any]) -> Iterator[str]:
    """The strings inside JSON ``values``: dictionaries' keys and values, lists' items."""
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from _strings(value)
        elif isinstance(value, dict):
            yield from _strings(value.keys())
            yield from _strings(value.values())
