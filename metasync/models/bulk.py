"""One unordered ``bulk_write`` of upserts for a page of rows.

mongoengine's per-document ``save()`` costs a round trip per document; a page of 500 ads would
take 500. Here each row is validated and converted by its document class (so field types,
``Decimal128`` and choices are enforced exactly as ``save()`` would), then the whole page goes in
one unordered ``bulk_write`` of ``UpdateOne(..., upsert=True)`` keyed by the natural key.

Only the fields present in a row are written (``$set``), so a partial row (a webhook refetch of
one field) never resets the others. ``first_seen_at`` is written on insert only. For documents
that track presence, every upserted row also gets ``last_seen_at = now`` and ``deleted_at``
cleared: an object Meta returns again is alive again.

Daily rows and report rows (documents with ``numbered``) also get the write number the
warehouse export reads them by (:mod:`metasync.models.numbering`): one number per page and ad
account, reserved before the bulk write and released after it. :func:`upsert_numbered` writes
the daily rows and report rows of one read under one number (one reservation for both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from mongoengine import Document
from mongoengine.errors import ValidationError as MongoValidationError
from pymongo import UpdateOne
from pymongo.collection import Collection

from metasync.models.base import NaturalKeyed, utcnow
from metasync.models.numbering import under_number

__all__ = ["RowValidationError", "UpsertResult", "upsert_numbered", "upsert_page"]

Update = tuple[dict[str, Any], dict[str, Any]]  # an upsert's filter (the natural key), change


class RowValidationError(ValueError):
    """A row does not fit its document; names the document, the row's key and the fields."""


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    modified: int
    matched: int

    @property
    def written(self) -> int:
        """Rows inserted or changed (a row re-read unchanged counts as matched only)."""
        return self.inserted + self.modified

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.modified + other.modified,
            self.matched + other.matched,
        )


NOTHING = UpsertResult(0, 0, 0)


def _convert(model: type[Document], row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` validated and converted field by field, the way ``Document.validate()`` and
    ``to_mongo()`` would (types, ``Decimal128``, choices, required fields), without building a
    document: a page of 500 daily rows spent more time in mongoengine's per-document machinery
    (defaults for every field, attribute tracking) than in its bulk write."""
    fields = model._fields
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in row.items():
        field = fields.get(name)
        if field is None:
            errors[name] = "not a field of this document"
            continue
        if value is None:  # an explicit None clears the field
            values[name] = None
            continue
        python = field.to_python(value)
        try:
            field._validate(python)
        except MongoValidationError as exc:
            errors[name] = exc.message
            continue
        except (ValueError, AttributeError, AssertionError) as exc:
            errors[name] = str(exc)
            continue
        values[name] = field.to_mongo(python)
    for name in _required_without_default(model):
        if values.get(name) is None:
            errors[name] = "Field is required"
    if errors:
        key = {name: row.get(name) for name in model.natural_key}
        raise RowValidationError(
            f"{model.__name__} row {key} is invalid in field(s) {sorted(errors)}: "
            + "; ".join(f"{name}: {errors[name]}" for name in sorted(errors))
        )
    return values


_REQUIRED: dict[str, tuple[str, ...]] = {}  # document class name -> its required fields


def _required_without_default(model: type[Document]) -> tuple[str, ...]:
    """Fields a row must carry (worked out once per document class, not per row)."""
    found = _REQUIRED.get(model.__name__)
    if found is None:
        found = _REQUIRED[model.__name__] = tuple(
            name
            for name, field in model._fields.items()
            if field.required and field.default is None and name != "id"
        )
    return found


def _to_update(model: type[Document], row: Mapping[str, Any], now: datetime) -> Update:
    keys: tuple[str, ...] = model.natural_key
    missing = [name for name in keys if row.get(name) in (None, "") and name != "breakdown_key"]
    if missing:
        raise RowValidationError(f"{model.__name__} row lacks its natural key field(s) {missing}")
    values = _convert(model, row)
    if model.tracks_presence:
        values["last_seen_at"] = now
        values["deleted_at"] = None
    values.pop("first_seen_at", None)
    key_filter = {name: values.pop(name) if name in values else "" for name in keys}
    update: dict[str, Any] = {"$set": values} if values else {}
    on_insert = {"first_seen_at": now} if "first_seen_at" in model._fields else {}
    if on_insert:
        update["$setOnInsert"] = on_insert
    return key_filter, update or {"$setOnInsert": key_filter}


def _write(model: type[Document], updates: Sequence[Update], number: int | None) -> UpsertResult:
    """One unordered ``bulk_write`` of ``updates``, each row stamped with ``number`` if given."""
    if not updates:
        return NOTHING
    operations = []
    for key_filter, update in updates:
        if number is not None:
            update = {**update, "$set": {**update.get("$set", {}), "seq": number}}
        operations.append(UpdateOne(key_filter, update, upsert=True))
    collection: Collection[Any] = cast(Any, model)._get_collection()
    result = collection.bulk_write(operations, ordered=False)
    return UpsertResult(
        inserted=result.upserted_count,
        modified=result.modified_count,
        matched=result.matched_count,
    )


def _check(model: type[Document]) -> None:
    if not (isinstance(model, type) and issubclass(model, NaturalKeyed)):
        raise TypeError(f"{model.__name__} has no natural key to upsert on")


def upsert_page(
    model: type[Document],
    rows: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    *,
    number: int | None = None,
) -> UpsertResult:
    """Upsert ``rows`` into ``model``'s collection with one unordered ``bulk_write``.

    Raises :class:`RowValidationError` before writing anything when a row is invalid: a page is
    written whole or not at all by this function (the bulk write itself is unordered; a server
    error mid-way leaves a partial page, which is safe because re-running the page is idempotent).

    For a numbered document the rows are stamped with ``number`` when the caller holds that
    reservation (:func:`metasync.models.numbering.reserve`), else as :func:`upsert_numbered`.
    """
    _check(model)
    if not rows:
        return NOTHING
    if cast(Any, model).numbered and number is None:
        return upsert_numbered([(model, rows)], now)[0]
    moment = now or utcnow()
    return _write(model, [_to_update(model, row, moment) for row in rows], number)


def upsert_numbered(
    pages: Sequence[tuple[type[Document], Sequence[Mapping[str, Any]]]],
    now: datetime | None = None,
) -> list[UpsertResult]:
    """Upsert pages of numbered documents (the daily rows and report rows one read gave), each
    ad account's rows under one write number: reserve, one ``bulk_write`` per document, release
    (:func:`metasync.models.numbering.under_number`). Returns a result per page.

    Costs two commands besides the bulk writes, for one account. Every row is validated before
    anything is reserved or written (:class:`RowValidationError`)."""
    moment = now or utcnow()
    models = [model for model, _ in pages]
    accounts: dict[tuple[str, str], list[list[Update]]] = {}  # (tenant, account) -> per page
    for index, (model, rows) in enumerate(pages):
        _check(model)
        if not cast(Any, model).numbered:
            raise TypeError(f"{model.__name__} rows carry no write number")
        for row in rows:
            update = _to_update(model, row, moment)
            parts = accounts.setdefault(
                (update[0]["tenant_id"], update[0]["account_id"]), [[] for _ in pages]
            )
            parts[index].append(update)
    results = [NOTHING] * len(pages)
    for (tenant_id, account_id), parts in sorted(accounts.items()):
        written = under_number(tenant_id, account_id, partial(_write_pages, models, parts))
        results = [total + part for total, part in zip(results, written, strict=True)]
    return results


def _write_pages(
    models: list[type[Document]], parts: list[list[Update]], number: int
) -> list[UpsertResult]:
    return [_write(model, updates, number) for model, updates in zip(models, parts, strict=True)]
