"""Lead Ads in the warehouse: forms, leads and their answers, and the leads erased since.

**The tables and where their names come from.** The issue names Fivetran's Facebook Ads
connector as the model: Fivetran added lead tables to it in February 2026. Neither Fivetran's
table reference for the connector as stored here ("Facebook Ads schema ERD",
fivetran.com/docs/connectors/applications/facebook-ads/connector-schema) nor its dbt package
(github.com/fivetran/dbt_facebook_ads, main of 2026-05-26: its sources are the history,
``basic_ad`` and ``demographics_*`` tables only) lists them, so the names follow that
connector's own conventions and Meta's field names (Meta's pages "Lead Ads: Retrieving Leads"
and the ``Lead`` / ``LeadgenForm`` references):

- ``lead_form``: one row per form (``id``), with ``page_id``, ``name``, ``status``, ``locale``,
  ``created_time`` and its ``questions`` (JSON, Meta's order: key, label, type, options).
- ``lead``: one row per lead (``id``), with ``form_id``, ``page_id``, ``ad_id``, ``adset_id``,
  ``campaign_id``, ``account_id`` (the ad account; empty for organic leads), ``created_time``,
  ``is_organic`` and ``platform``.
- ``lead_field_data``: the answers, one row per question of a lead (``lead_id``, ``name``),
  ``index`` its place in Meta's ``field_data`` and ``value`` its values (a JSON list: a
  multiple-choice answer can hold several).

Ids are numbers, as in Fivetran's other tables; every row carries ``_fivetran_synced``. A
warehouse is where a tenant chose to keep its leads: the answers are opened at export time
(:func:`metasync.models.leads.lead_answers`) and written in clear text there, so access to the
schema is the tenant's to control. The keyed person hashes the mirror keeps for erasures are
never exported.

**How they travel.** Forms are read whole at every export (few, and unchanged rows are not
rewritten). Leads are read like daily rows, by write number, per page's numbering stream
(:func:`metasync.models.leads.lead_streams`), so each lead is exported exactly once per write
and merged by id; its answers replace the lead's previous answers as a set. An erased lead
(``metasync leads erase``, or past ``LEAD_RETENTION_DAYS``) is recorded in
``export_deletions`` under the stream's numbering and read after the stream's leads; its row
and its answers are deleted from the destination in the batch that carries the mark,
whatever the mirror holds (:func:`erased_lead_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from metasync.config import get_settings
from metasync.crypto import TokenCipher
from metasync.export.fivetran import number_id
from metasync.export.tables import TABLES
from metasync.models.deletions import ExportDeletion
from metasync.models.leads import ANSWERS_SOURCE, Lead, lead_answers

__all__ = [
    "LEAD_SOURCES",
    "LeadTables",
    "answers_cipher",
    "erased_lead_keys",
    "field_data_rows",
    "lead_form_row",
    "lead_parents",
    "lead_row",
]

# what the export reads of each lead stream, in this order: the leads, then the erasures (so
# a batch of erasures meets the warehouse as the leads' export left it)
LEAD_SOURCES = (("leads", Lead), ("deleted", ExportDeletion))


def answers_cipher() -> TokenCipher:
    """The keys that open the answers (the current one and the retired ones)."""
    settings = get_settings()
    return TokenCipher(
        settings.ENCRYPTION_KEY.get_secret_value(),
        [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
    )


def _row(table: str, values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in TABLES[table].names)


def lead_form_row(doc: Mapping[str, Any], synced: datetime) -> tuple[Any, ...]:
    """The ``lead_form`` row of a stored :class:`~metasync.models.leads.LeadForm`."""
    return _row(
        "lead_form",
        {
            "id": number_id(doc.get("form_id")),
            "page_id": number_id(doc.get("page_id")),
            "name": doc.get("name"),
            "status": doc.get("status"),
            "locale": doc.get("locale"),
            "created_time": doc.get("created_time"),
            "questions": list(doc.get("questions") or []),
            "_fivetran_synced": synced,
        },
    )


def lead_row(doc: Mapping[str, Any], synced: datetime) -> tuple[Any, ...]:
    """The ``lead`` row of a stored :class:`~metasync.models.leads.Lead` (no answers)."""
    return _row(
        "lead",
        {
            "id": number_id(doc.get("lead_id")),
            "form_id": number_id(doc.get("form_id")),
            "page_id": number_id(doc.get("page_id")),
            "ad_id": number_id(doc.get("ad_id")),
            "adset_id": number_id(doc.get("adset_id")),
            "campaign_id": number_id(doc.get("campaign_id")),
            "account_id": number_id(doc.get("ad_account_id")),
            "created_time": doc.get("created_time"),
            "is_organic": bool(doc.get("is_organic")),
            "platform": doc.get("platform") or None,
            "_fivetran_synced": synced,
        },
    )


def field_data_rows(
    doc: Mapping[str, Any], answers: Sequence[Mapping[str, Any]], synced: datetime
) -> list[tuple[Any, ...]]:
    """The ``lead_field_data`` rows of one lead's opened answers (Meta's ``field_data``)."""
    lead_id = number_id(doc.get("lead_id"))
    return [
        _row(
            "lead_field_data",
            {
                "lead_id": lead_id,
                "name": str(item.get("name", "")),
                "index": index,
                "value": [str(v) for v in item.get("values") or []],
                "_fivetran_synced": synced,
            },
        )
        for index, item in enumerate(answers)
    ]


def lead_parents(lead_ids: Iterable[Any]) -> list[tuple[int]]:
    """``lead_field_data``'s parent keys of these leads: the ids that are numbers (a lead with
    another id has its ``lead`` row set aside, named, and no answers to replace)."""
    ids = (number_id(lead_id) for lead_id in lead_ids)
    return [(lead_id,) for lead_id in dict.fromkeys(ids) if isinstance(lead_id, int)]


def erased_lead_keys(deletions: Iterable[Mapping[str, Any]]) -> list[tuple[int]]:
    """The ``lead`` keys of the erasures among ``deletions`` (``export_deletions`` documents of
    a lead stream), each once. Unconditional: an erased lead is deleted from the warehouse
    whatever the mirror holds."""
    erased = (d["key"].get("lead_id") for d in deletions if d.get("source") == ANSWERS_SOURCE)
    return lead_parents(erased)


class LeadTables:
    """The warehouse rows of batches of leads: ``lead`` and ``lead_field_data`` (the answers,
    opened here and never logged: a lead that cannot be opened raises, named by its id only).
    The keys are read at the first lead that holds answers, once per export: leads without
    any need no settings."""

    def __init__(self) -> None:
        self._cipher: TokenCipher | None = None

    def _keys(self) -> TokenCipher:
        if self._cipher is None:
            self._cipher = answers_cipher()
        return self._cipher

    def of(
        self, docs: Sequence[Mapping[str, Any]], synced: datetime
    ) -> list[tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """Per table, its rows and the parents whose rows they replace (every answer of these
        leads, replaced as a set)."""
        answers = [
            row
            for doc in docs
            if doc.get("answers_envelope")
            for row in field_data_rows(doc, lead_answers(doc, self._keys()), synced)
        ]
        return [
            ("lead", [lead_row(doc, synced) for doc in docs], []),
            ("lead_field_data", answers, lead_parents(doc["lead_id"] for doc in docs)),
        ]
