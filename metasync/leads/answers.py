"""Opening a lead's answers, for the readers of the mirror (the export, the API)."""

from __future__ import annotations

from metasync.models.leads import lead_answers

__all__ = ["lead_answers"]
