"""The warehouse export: the mirror in PostgreSQL, DuckDB or Parquet, in the tables of
Fivetran's Facebook Ads schema (so its dbt package runs on it) and metasync's own."""

from metasync.export.destinations import DestinationError, label, schema_for
from metasync.export.run import ExportBusy, ExportError, ExportResult, export_tenant
from metasync.export.upgrade import clean_export_secrets  # registers the upgrade

__all__ = [
    "DestinationError",
    "ExportBusy",
    "ExportError",
    "ExportResult",
    "clean_export_secrets",
    "export_tenant",
    "label",
    "schema_for",
]
