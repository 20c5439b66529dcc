"""Lead Ads: reading pages' lead forms and leads into the mirror, and keeping their answers
private (sealed at rest, kept ``LEAD_RETENTION_DAYS``, erased on request). The documents and
the contract readers rely on are in :mod:`metasync.models.leads`."""

from metasync.leads.answers import lead_answers

__all__ = ["lead_answers"]
