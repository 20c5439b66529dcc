"""The beat schedule, from settings: entity syncs every META_SYNC_INTERVAL_MINUTES and
performance syncs every PERFORMANCE_SYNC_INTERVAL_MINUTES, and a check for stalled runs every
RUN_RECOVERY_INTERVAL_SECONDS.

The schedules are ``relative``: they fire on clock boundaries (the whole minute or hour of the
interval's resolution) rather than an interval after the process started. Two beat processes
started by mistake therefore send ``schedule_syncs`` at the same moment, inside the same
schedule slot, and the slot claim in Redis lets only one of them enqueue syncs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import schedule

from metasync.config import Settings

__all__ = ["beat_schedule"]


def _every(minutes: float) -> schedule:
    return schedule(run_every=timedelta(minutes=minutes), relative=True)


RULE_SCHEDULES = (
    ("optimizer", 4 * 60, ["cost_per_conversion", "return_on_spend"]),
    ("learning-monitor", 6 * 60, ["learning_limited"]),
    ("creative-fatigue", 24 * 60, ["creative_fatigue"]),
)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "entity-syncs": {
            "task": "metasync.schedule_syncs",
            "schedule": _every(settings.META_SYNC_INTERVAL_MINUTES),
            "kwargs": {"kind": "entities"},
        },
        "performance-syncs": {
            "task": "metasync.schedule_syncs",
            "schedule": _every(settings.PERFORMANCE_SYNC_INTERVAL_MINUTES),
            "kwargs": {"kind": "performance"},
        },
        "check-tokens": {  # token and data-access lifetimes, once a day
            "task": "metasync.check_tokens",
            "schedule": _every(24 * 60),
        },
        # the optimization rules, on the roadmap's schedule (each claims its slot)
        **{
            f"rules-{name}": {
                "task": "metasync.evaluate_rules",
                "schedule": _every(minutes),
                "kwargs": {"schedule_name": name, "interval_minutes": minutes, "kinds": kinds},
            }
            for name, minutes, kinds in RULE_SCHEDULES
        },
        "recheck-features": {  # features enabled 24-48 h ago and still pending (Meta's delay)
            "task": "metasync.recheck_features",
            "schedule": _every(30),
        },
        "refresh-account-health": {"task": "metasync.refresh_health", "schedule": _every(60)},
        "check-alerts": {"task": "metasync.check_alerts", "schedule": _every(5)},
        "purge-old-records": {"task": "metasync.purge_records", "schedule": _every(24 * 60)},
        "lead-syncs": {  # each connection's lead forms and new leads (metasync.leads)
            "task": "metasync.schedule_lead_syncs",
            "schedule": _every(settings.LEAD_SYNC_INTERVAL_MINUTES),
        },
        "erase-expired-leads": {  # leads past LEAD_RETENTION_DAYS
            "task": "metasync.erase_expired_leads",
            "schedule": _every(24 * 60),
        },
        "recover-stalled-runs": {
            "task": "metasync.recover_runs",
            "schedule": _every(settings.RUN_RECOVERY_INTERVAL_SECONDS / 60),
        },
    }
