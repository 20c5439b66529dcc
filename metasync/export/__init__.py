"""The warehouse export: the mirror in PostgreSQL, DuckDB or Parquet, in the tables of
Fivetran's Facebook Ads schema (so its dbt package runs on it) and metasync's own."""

from metasync.export.destinations import DestinationError, label, schema_for
from metasync.export.run import ExportBusy, ExportError, ExportResult, export_tenant

__all__ = [
    "DestinationError",
    "ExportBusy",
    "ExportError",
    "ExportResult",
    "export_tenant",
    "label",
    "schema_for",
]
