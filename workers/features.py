"""The ``metasync.recheck_features`` task: :mod:`metasync.feature_rechecks` on beat's
``recheck-features`` entry. No arguments; it returns account ids and feature statuses only."""

from __future__ import annotations

from metasync.feature_rechecks import recheck_enabled_features
from workers.base import MetaSyncTask
from workers.context import context
from workers.tasks import metasync_task

__all__ = ["recheck_features"]


@metasync_task("metasync.recheck_features", rate_limit="12/m", max_retries=3)
def recheck_features(self: MetaSyncTask) -> dict[str, str]:
    """The accounts whose enabled features Meta should have put in effect by now, read again
    (account ids and feature statuses only)."""
    return recheck_enabled_features(context())
